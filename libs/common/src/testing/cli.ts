/** Test helpers for every bin's CLI tests: run a Cli in-process, check every command is documented. */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { Cli } from 'clipanion';
import { runCli, type CocoonContext } from '../cli.ts';

export interface InProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `argv` against `cli` with PassThrough stdio and the given environment. */
export async function runInProcess(cli: Cli<CocoonContext>, tool: string, argv: string[], env: NodeJS.ProcessEnv, stdinData: string | Buffer = ''): Promise<InProcessResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  stdin.end(stdinData);
  const chunks = { out: [] as Buffer[], err: [] as Buffer[] };
  stdout.on('data', (d: Buffer) => chunks.out.push(d));
  stderr.on('data', (d: Buffer) => chunks.err.push(d));
  const code = await runCli(cli, argv, { tool, stdout, stderr, stdin, env });
  return { code, stdout: Buffer.concat(chunks.out).toString(), stderr: Buffer.concat(chunks.err).toString() };
}

/** Fails on a command without a lowercase description, an example, or option descriptions. */
export function assertDocumented(cli: Cli<CocoonContext>): void {
  for (const def of cli.definitions()) {
    if (def.path.endsWith('-h') || def.path.includes('--help') || def.path.includes('--version')) continue;
    assert.ok(def.description, `${def.path}: no description`);
    assert.match(def.description, /^[a-z]/, `${def.path}: description starts lowercase`);
    assert.doesNotMatch(def.description, /\.$/, `${def.path}: description has no final period`);
    assert.ok(def.examples && def.examples.length > 0, `${def.path}: at least one example`);
    for (const opt of def.options) {
      if (opt.definition.startsWith('-h') || opt.definition.startsWith('--help')) continue;
      assert.ok(opt.description, `${def.path}: option ${opt.definition} has no description`);
    }
  }
}

/** What every planned tool must do: document itself, print its version, refuse to pretend. */
export async function assertPlannedTool(cli: Cli<CocoonContext>, tool: string): Promise<void> {
  assertDocumented(cli);
  const env = { COCOON_ROOT_DIR: '/nonexistent', COCOON_LOG_DIR: '/nonexistent' };
  const version = await runInProcess(cli, tool, ['--version'], env);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^\d+\.\d+\.\d+/);
  const help = await runInProcess(cli, tool, ['--help'], env);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Planned commands/);
  const bare = await runInProcess(cli, tool, [], env);
  assert.equal(bare.code, 2, 'a planned tool exits 2 (usage) instead of pretending to work');
  assert.match(bare.stderr, new RegExp(`^${tool}: no commands yet; planned: `));
}
