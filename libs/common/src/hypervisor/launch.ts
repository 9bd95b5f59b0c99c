/**
 * What every driver does around its hypervisor process: launch it detached and wait until
 * its control socket answers (or it dies, or time runs out: then it is reaped and the error
 * carries the tail of its log), and stop it by escalation: the driver's graceful step, then
 * SIGTERM, then SIGKILL, each signal only after checking the PID still belongs to the VM.
 */
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ExternalError, TimeoutError } from '../errors.ts';
import type { RuntimeState, StopOptions, StopOutcome, VmPaths } from './index.ts';
import { pidBelongsTo, processArgv, signalIfOwned, waitForExit } from './process.ts';

export const TERM_GRACE_MS = 5000;
export const KILL_GRACE_MS = 5000;

/** The last `n` lines of a log, on one line (for error messages). */
export async function logTail(file: string, n = 3): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.trim().split('\n').slice(-n).join(' | ') || '(no output)';
  } catch {
    return '(no log)';
  }
}

export interface WaitReady {
  pid: number;
  /** Whether the child has been seen to exit (set by the spawner). */
  exited: () => boolean;
  /** Resolves true once the control socket answers; called repeatedly. */
  ready: (deadline: number) => Promise<boolean>;
  /** Marker in the process's argv that proves the PID is this VM's (its control socket). */
  marker: string;
  log: string;
  what: string;
  timeoutMs: number;
}

/**
 * Polls `ready` (tightly at first, then backing off) until it answers. A process that exits
 * is an ExternalError; a deadline is a TimeoutError after the process is killed (PID verified).
 */
export async function waitUntilReady(w: WaitReady): Promise<void> {
  const deadline = Date.now() + w.timeoutMs;
  for (let delay = 5, tries = 0; ; delay = ++tries < 100 ? 5 : Math.min(delay * 2, 100)) {
    if (w.exited() || processArgv(w.pid) === null) throw new ExternalError(`${w.what} exited during start: ${await logTail(w.log)}`);
    if (await w.ready(deadline)) return;
    if (Date.now() >= deadline) {
      signalIfOwned(w.pid, w.marker, 'SIGKILL');
      await waitForExit(w.pid, KILL_GRACE_MS);
      throw new TimeoutError(`${w.what} did not answer on its API socket within ${w.timeoutMs} ms (killed): ${await logTail(w.log)}`);
    }
    await sleep(delay);
  }
}

export interface Escalation {
  pid: number | null;
  marker: string;
  opts: StopOptions;
  /** Asks the guest to shut down (ACPI power button, Ctrl-Alt-Del…); null when there is none. */
  graceful: (() => Promise<void>) | null;
  /** Whether to wait `opts.timeoutMs` for the process to exit after `graceful` (false: go on to SIGTERM at once). */
  waitForGuest?: boolean;
  what: string;
  warn: (msg: string, err?: unknown) => void;
}

/** Stops the process: graceful step, SIGTERM, SIGKILL; returns how it ended. */
export async function escalateStop(e: Escalation): Promise<StopOutcome> {
  const { pid, marker } = e;
  if (!pid || !pidBelongsTo(pid, marker)) return 'not-running';
  if (!e.opts.force && e.graceful) {
    try {
      await e.graceful();
      if (e.waitForGuest !== false) {
        if (await waitForExit(pid, e.opts.timeoutMs)) return 'graceful';
        e.warn(`the guest did not power off within ${e.opts.timeoutMs} ms; sending SIGTERM`);
      }
    } catch (err) {
      e.warn(`graceful shutdown failed (${(err as Error).message}); sending SIGTERM`, err);
    }
  }
  if (signalIfOwned(pid, marker, 'SIGTERM') && (await waitForExit(pid, TERM_GRACE_MS))) return 'terminated';
  if (!pidBelongsTo(pid, marker)) return 'terminated';
  signalIfOwned(pid, marker, 'SIGKILL');
  if (await waitForExit(pid, KILL_GRACE_MS)) return 'killed';
  throw new TimeoutError(`${e.what} (pid ${pid}) survived SIGKILL for ${KILL_GRACE_MS} ms`);
}

/** A VM runs while its PID is alive and its argv names the VM's API socket (every driver's marker). */
export function runtimeState(paths: VmPaths, pid: number | null): RuntimeState {
  const running = pidBelongsTo(pid, paths.apiSocket);
  return { running, pid: running ? pid : null };
}
