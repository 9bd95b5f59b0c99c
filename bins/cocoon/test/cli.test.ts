import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { assertDocumented, runInProcess } from '@cocoon/common/testing/cli';
import { cliFor } from '../src/cli.ts';
import { DISPATCH, route } from '../src/routes.ts';

const root = mkdtempSync(join(tmpdir(), 'cocoon-cli-'));
after(() => rmSync(root, { recursive: true, force: true }));
const env = { COCOON_ROOT_DIR: root, COCOON_LOG_DIR: join(root, 'log'), PATH: process.env.PATH };
const run = (...argv: string[]) => runInProcess(cliFor(argv), 'cocoon', argv, env);
const cli = cliFor([]);

describe('cocoon CLI', () => {
  it('documents every command', () => assertDocumented(cli));

  it('prints its version', async () => {
    const r = await run('version', '--format', 'json');
    assert.equal(r.code, 0);
    assert.match(JSON.parse(r.stdout).version, /^\d+\.\d+\.\d+/);
  });

  it('lists no VMs as an empty JSON array off a TTY', async () => {
    const r = await run('vm', 'ls');
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(r.stdout), []);
    const t = await run('vm', 'ls', '--format', 'table');
    assert.match(t.stdout, /^ID\s+NAME\s+STATE/);
  });

  it('maps bad input to documented exit codes with one stderr line', async () => {
    const cases: Array<[string[], number]> = [
      [['vm', 'create', '--memory', '12Q', 'default'], 2],
      [['vm', 'create', '--cpu', '0', 'default'], 2],
      [['vm', 'create', '--nics', '1', 'default'], 2],
      [['vm', 'create', '--hypervisor', 'vmware', 'default'], 2],
      [['vm', 'create', 'default'], 3],
      [['vm', 'inspect', 'ghost'], 3],
      [['vm', 'stop', 'ghost'], 3],
      [['vm', 'ls', '--format', 'yaml'], 2],
      [['nope'], 2],
    ];
    for (const [argv, code] of cases) {
      const r = await run(...argv);
      assert.equal(r.code, code, `${argv.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.equal(r.stdout, '');
    }
    assert.match((await run('vm', 'create', 'default')).stderr, /cocoon image build-default/);
  });

  it('goes on past a failing ref like docker rm, and reports each failure', async () => {
    const r = await run('vm', 'rm', 'ghost-a', 'ghost-b');
    assert.equal(r.code, 3);
    assert.deepEqual(r.stderr.trim().split('\n'), ['cocoon: VM "ghost-a" not found', 'cocoon: VM "ghost-b" not found']);
  });
});

describe('dispatch', () => {
  it('routes nouns to their tools git-style', () => {
    assert.deepEqual(route(['image', 'ls', '-f', 'json']), { tool: 'cocoon-image', args: ['ls', '-f', 'json'] });
    assert.deepEqual(route(['snapshot', 'ls']), { tool: 'cocoon-snap', args: ['ls'] });
    assert.deepEqual(route(['snap', 'ls']), { tool: 'cocoon-snap', args: ['ls'] });
    assert.deepEqual(route(['gc']), { tool: 'cocoon-gc', args: [] });
    assert.deepEqual(route(['vm', 'console', 'web']), { tool: 'cocoon-console', args: ['web'] });
    assert.equal(route(['vm', 'ls']), null);
    assert.equal(route([]), null);
    assert.ok(Object.values(DISPATCH).every((t) => t.startsWith('cocoon-')));
  });
});
