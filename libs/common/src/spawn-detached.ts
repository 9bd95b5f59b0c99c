/**
 * Starting a long-lived child that outlives this process (a hypervisor): its own session,
 * stdout/stderr appended straight to `logFile` (no pipe through us, so this CLI can exit).
 *
 * Apart from `exec.ts` because `vm run` needs nothing else of it: this is Node's own
 * `child_process.spawn` with an argument array (never a shell), so starting a VM loads
 * neither execa nor pino (pino only when debug logging is on).
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { ExternalError, MissingDependencyError } from './errors.ts';
import { logSettings } from './log-settings.ts';
import hostTools from './host-tools.json' with { type: 'json' };

/**
 * Resolves once spawned, with the PID and a promise that settles when the child exits (while
 * we are still alive). `extraFds` become the child's fds 3, 4 … (e.g. a state file QEMU
 * reads with `-incoming fd:3`).
 */
export async function spawnDetached(
  file: string,
  args: readonly string[],
  logFile: string,
  extraFds: readonly number[] = [],
): Promise<{ pid: number; exited: Promise<void> }> {
  const level = logSettings().settings.level;
  if (level === 'debug' || level === 'trace') (await import('./log.ts')).log().debug({ argv: [file, ...args], logFile }, 'spawn detached');
  const fd = openSync(logFile, 'a', 0o600);
  try {
    const child = spawn(file, args, { detached: true, stdio: ['ignore', fd, fd, ...extraFds] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid as number));
      child.once('error', (err: NodeJS.ErrnoException) => reject(spawnFailure(file, err)));
    });
    child.on('error', () => undefined);
    child.unref();
    return { pid, exited };
  } finally {
    closeSync(fd);
  }
}

function spawnFailure(file: string, err: NodeJS.ErrnoException): Error {
  if (err.code !== 'ENOENT') return new ExternalError(`${file} could not be started: ${err.message}`);
  const pkg = (hostTools as Record<string, string>)[file.split('/').pop() ?? file];
  return new MissingDependencyError(`${file} not found${pkg ? `: install the Debian package ${pkg} (or run doctor/cocoon-doctor install)` : ''}`);
}
