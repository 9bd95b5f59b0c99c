/**
 * The one way cocoon runs subprocesses: execa with argument arrays, never a shell string
 * (a detached hypervisor: `spawn-detached.ts`, node:child_process, re-exported here).
 * argv is logged at debug level; a missing binary becomes a MissingDependencyError that
 * names the Debian package, a failure an ExternalError with the tool's last stderr line.
 */
import { execa, type Options, type ResultPromise } from 'execa';
import { ExternalError, MissingDependencyError, TimeoutError } from './errors.ts';
import { log } from './log.ts';
import { PACKAGE_OF } from './packages.ts';

export { PACKAGE_OF };

export interface RunOptions {
  input?: string | Uint8Array;
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Keep stdout as bytes. */
  binary?: boolean;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Runs `file args…` to completion and returns its output; throws a typed error on failure. */
export async function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  log().debug({ argv: [file, ...args] }, 'exec');
  const options: Options = {
    input: opts.input,
    cwd: opts.cwd,
    env: opts.env,
    timeout: opts.timeoutMs,
    reject: false,
    stripFinalNewline: false,
  };
  const result = await execa(file, args, options);
  const stdout = String(result.stdout ?? '');
  const stderr = String(result.stderr ?? '');
  if (result.failed) throw failure(file, args, result, stderr, opts.timeoutMs);
  return { stdout, stderr };
}

/** Starts `file args…` and returns the execa subprocess (for streaming or long-lived children). */
export function spawn(file: string, args: readonly string[], opts: Options = {}): ResultPromise {
  log().debug({ argv: [file, ...args] }, 'spawn');
  return execa(file, args, opts);
}

/** Maps an execa failure to cocoon's typed errors. */
export function failure(
  file: string,
  args: readonly string[],
  result: { code?: string; exitCode?: number; signal?: string; timedOut?: boolean; originalMessage?: string },
  stderr: string,
  timeoutMs?: number,
): Error {
  if (result.code === 'ENOENT') {
    const pkg = PACKAGE_OF[file.split('/').pop() ?? file];
    return new MissingDependencyError(`${file} not found${pkg ? `: install the Debian package ${pkg} (or run doctor/cocoon-doctor install)` : ''}`);
  }
  if (result.timedOut) return new TimeoutError(`${file} did not finish within ${timeoutMs} ms`);
  const last = stderr.trim().split('\n').filter(Boolean).pop() ?? result.originalMessage ?? '';
  const how = result.signal ? `killed by ${result.signal}` : `exit ${result.exitCode}`;
  return new ExternalError(`${file} ${args[0] ?? ''} failed (${how})${last ? `: ${last}` : ''}`.replace('  ', ' '));
}

export { spawnDetached } from './spawn-detached.ts';
