/**
 * The one way cocoon runs subprocesses: execa with argument arrays, never a shell string.
 * argv is logged at debug level; a missing binary becomes a MissingDependencyError that
 * names the Debian package, a failure an ExternalError with the tool's last stderr line.
 */
import { closeSync, openSync } from 'node:fs';
import { execa, type Options, type ResultPromise } from 'execa';
import { ExternalError, MissingDependencyError, TimeoutError } from './errors.ts';
import { log } from './log.ts';

/** Debian packages that provide the host tools cocoon runs. */
export const PACKAGE_OF: Record<string, string> = {
  'qemu-system-x86_64': 'qemu-system-x86',
  'qemu-img': 'qemu-utils',
  'mkfs.erofs': 'erofs-utils',
  'mke2fs': 'e2fsprogs',
  'mkfs.ext4': 'e2fsprogs',
  'resize2fs': 'e2fsprogs',
  busybox: 'busybox-static',
  cpio: 'cpio',
  'apt-get': 'apt',
  'dpkg-deb': 'dpkg',
  ip: 'iproute2',
  tc: 'iproute2',
  'mkfs.vfat': 'dosfstools',
  mcopy: 'mtools',
  xz: 'xz-utils',
  zstd: 'zstd',
  skopeo: 'skopeo',
  nsenter: 'util-linux',
  openssl: 'openssl',
  lz4: 'lz4',
};

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

/**
 * Starts a long-lived child that outlives this process (a hypervisor): its own session,
 * stdout/stderr appended straight to `logFile` (no pipe through us, so this CLI can
 * exit), and no execa cleanup on our exit. Resolves once spawned, with the PID and a
 * promise that settles when the child exits (while we are still alive).
 */
export async function spawnDetached(file: string, args: readonly string[], logFile: string): Promise<{ pid: number; exited: Promise<void> }> {
  log().debug({ argv: [file, ...args], logFile }, 'spawn detached');
  const fd = openSync(logFile, 'a', 0o600);
  try {
    // NOTE: execa passes a raw fd through at run time; its types only list fds 1-9, hence the cast.
    const fdOption = fd as unknown as 1;
    const child = execa(file, args, { detached: true, cleanup: false, stdio: ['ignore', fdOption, fdOption], reject: false });
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
