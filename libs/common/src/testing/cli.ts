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
export async function runInProcess(cli: Cli<CocoonContext>, tool: string, argv: string[], env: NodeJS.ProcessEnv, stdinText = ''): Promise<InProcessResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  stdin.end(stdinText);
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
