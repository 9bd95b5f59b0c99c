import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { Command, Option } from 'clipanion';
import { CocoonCommand, createCli, runCli } from './cli.ts';
import { ExitCode, NotFoundError } from './errors.ts';

class Fail extends CocoonCommand {
  static override paths = [['fail']];
  static override usage = Command.Usage({ description: 'fail', examples: [['fail', '$0 fail']] });
  kind = Option.String('--kind', 'domain');
  override async execute(): Promise<number> {
    if (this.kind === 'domain') throw new NotFoundError('VM "x" not found');
    throw new Error('boom');
  }
}

async function runOnce(argv: string[]) {
  const cli = createCli('t', 'test tool');
  cli.register(Fail);
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const code = await runCli(cli, argv, { tool: 't', stdout, stderr, env: { COCOON_ROOT_DIR: '/nonexistent', COCOON_LOG_DIR: '/nonexistent/log' } });
  return { code, out, err };
}

describe('runCli', () => {
  it('prints a domain error as one line on stderr with its exit code', async () => {
    const r = await runOnce(['fail']);
    assert.equal(r.code, ExitCode.NotFound);
    assert.equal(r.err, 't: VM "x" not found\n');
    assert.equal(r.out, '');
  });
  it('exits 2 with one line for an unknown flag', async () => {
    const r = await runOnce(['fail', '--nope']);
    assert.equal(r.code, ExitCode.Usage);
    assert.equal(r.err.trim().split('\n').length, 1);
    assert.match(r.err, /--nope/);
  });
  it('exits 2 for an unknown command', async () => {
    const r = await runOnce(['frobnicate']);
    assert.equal(r.code, ExitCode.Usage);
    assert.match(r.err, /unknown command "frobnicate"/);
  });
  it('exits 1 for an internal error without a stack unless debug', async () => {
    const r = await runOnce(['fail', '--kind', 'bug']);
    assert.equal(r.code, ExitCode.Internal);
    assert.match(r.err, /internal error: boom/);
    assert.doesNotMatch(r.err, /at /);
    const d = await runOnce(['fail', '--kind', 'bug', '--log-level', 'debug']);
    assert.match(d.err, /\n\s+at /);
  });
  it('prints help on stdout and exits 0', async () => {
    const r = await runOnce(['fail', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.out, /\$ t fail/);
  });
});
