/**
 * The one way cocoon runs subprocesses: execa with argument arrays, never a shell string.
 * argv is logged at debug level; a missing binary becomes a MissingDependencyError that
 * names the Debian package, a failure an ExternalError with the tool's last stderr line.
 *
 * Children of `run` and `spawn` die with cocoon: they are started through util-linux's
 * `setpriv --pdeathsig KILL`, which sets PR_SET_PDEATHSIG between fork and exec (Node's
 * spawn cannot), so a cocoon killed with SIGKILL leaves no qemu-img, mkfs.erofs or zstd
 * writing on. (`spawnDetached` children, the hypervisors, outlive cocoon on purpose.)
 */
import { closeSync, openSync } from 'node:fs';
import { execa, type Options, type ResultPromise } from 'execa';
import { ExternalError, MissingDependencyError, TimeoutError } from './errors.ts';
import { log } from './log.ts';
import hostTools from './host-tools.json' with { type: 'json' };

/**
 * Debian packages that provide the host tools cocoon runs. One source, `host-tools.json`,
 * which cocoon-doctor reads too (to name the package of a missing tool and to install them).
 */
export const PACKAGE_OF: Readonly<Record<string, string>> = hostTools;

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
  const result = await execa(...dieWithUs(file, args), options);
  const stdout = String(result.stdout ?? '');
  const stderr = String(result.stderr ?? '');
  // NOTE: ENOENT here means setpriv itself is missing (a missing `file` is setpriv's exit 127).
  if (result.failed) throw failure(result.code === 'ENOENT' ? SETPRIV : file, args, result, stderr, opts.timeoutMs);
  return { stdout, stderr };
}

/**
 * Starts `file args…` and returns the execa subprocess (for streaming children). It dies with
 * us, unless `detached`: a child in its own session (the guest agent's commands) lives its own life.
 */
export function spawn(file: string, args: readonly string[], opts: Options = {}): ResultPromise {
  log().debug({ argv: [file, ...args] }, 'spawn');
  return opts.detached ? execa(file, args, opts) : execa(...dieWithUs(file, args), opts);
}

/** `setpriv` (util-linux, in every Debian) sets the parent-death signal, then execs `file` in place: same PID. */
export const SETPRIV = 'setpriv';

/** The argv that runs `file args…` with SIGKILL as its parent-death signal. */
export function dieWithUs(file: string, args: readonly string[]): [string, string[]] {
  return [SETPRIV, ['--pdeathsig', 'KILL', '--', file, ...args]];
}

/** Maps an execa failure to cocoon's typed errors. */
export function failure(
  file: string,
  args: readonly string[],
  result: { code?: string; exitCode?: number; signal?: string; timedOut?: boolean; originalMessage?: string },
  stderr: string,
  timeoutMs?: number,
): Error {
  // setpriv exits 127 with "failed to execute X: No such file or directory" for a missing X.
  const notFound = result.code === 'ENOENT' || (result.exitCode === 127 && /^setpriv: failed to execute .*No such file or directory/m.test(stderr));
  if (notFound) {
    const pkg = PACKAGE_OF[file.split('/').pop() ?? file];
    return new MissingDependencyError(`${file} not found${pkg ? `: install the Debian package ${pkg} (or run doctor/cocoon-doctor install)` : ''}`);
  }
  if (result.timedOut) return new TimeoutError(`${file} did not finish within ${timeoutMs} ms`);
  const last = stderr.trim().split('\n').filter(Boolean).pop() ?? result.originalMessage ?? '';
  const how = result.signal ? `killed by ${result.signal}` : `exit ${result.exitCode}`;
  return new ExternalError(`${file} ${args[0] ?? ''} failed (${how})${last ? `: ${last}` : ''}`.replace('  ', ' '));
}

/**
 * Starts a long-lived child that outlives this process (a hypervisor): its own session,
 * stdout/stderr appended straight to `logFile` (no pipe through us, so this CLI can
 * exit), and no execa cleanup on our exit. Resolves once spawned, with the PID and a
 * promise that settles when the child exits (while we are still alive).
 */
export async function spawnDetached(file: string, args: readonly string[], logFile: string, extraFds: readonly number[] = []): Promise<{ pid: number; exited: Promise<void> }> {
  log().debug({ argv: [file, ...args], logFile }, 'spawn detached');
  const fd = openSync(logFile, 'a', 0o600);
  try {
    // NOTE: execa passes a raw fd through at run time; its types only list fds 1-9, hence the cast.
    // `extraFds` become the child's fds 3, 4 … (e.g. a state file QEMU reads with `-incoming fd:3`).
    const fdOption = fd as unknown as 1;
    const extra = extraFds.map((f) => f as unknown as 1);
    const child = execa(file, args, { detached: true, cleanup: false, stdio: ['ignore', fdOption, fdOption, ...extra], reject: false });
    child.unref();
    if (child.pid === undefined) {
      const result = await child;
      throw failure(file, args, result, '');
    }
    return { pid: child.pid, exited: child.then(() => undefined, () => undefined) };
  } finally {
    closeSync(fd);
  }
}
