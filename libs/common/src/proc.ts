/**
 * Process identity from /proc. A PID alone is reused by the kernel; a PID plus its start
 * time (clock ticks since boot, `/proc/PID/stat` field 22) names one process for the life of
 * the machine. cocoon records identities like this for whoever owns something on disk (the
 * creator of a VM record, the owner of a temp file) and checks them before trusting a PID.
 */
import { existsSync, readFileSync } from 'node:fs';

/** One process: its PID and start time (clock ticks after boot). */
export interface ProcessIdentity {
  pid: number;
  start: number;
}

/** State letter and start time of a live PID, or null when there is no such process. */
export function procStat(pid: number): { state: string; start: number } | null {
  // NOTE: a gone PID is the common case (`vm list` over stale records); existsSync answers
  // without building an ENOENT error, which costs ~0.1 ms each in a fresh process.
  if (!Number.isInteger(pid) || pid <= 0 || !existsSync(`/proc/${pid}`)) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // NOTE: the fields after the command name start after the LAST ')': the name may hold spaces and ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); field 22 (starttime) is fields[19].
    return { state: fields[0] ?? '?', start: Number(fields[19]) };
  } catch {
    return null;
  }
}

/** Whether `pid` is a live process (a zombie or a dead one is not). */
export function isRunning(pid: number): boolean {
  const st = procStat(pid);
  return st !== null && st.state !== 'Z' && st.state !== 'X';
}

let self: ProcessIdentity | undefined;

/** This process's identity. */
export function selfIdentity(): ProcessIdentity {
  self ??= { pid: process.pid, start: procStat(process.pid)?.start ?? 0 };
  return self;
}

/** Whether the process `id` names still runs (the same process, not a later one with its PID). */
export function identityAlive(id: ProcessIdentity): boolean {
  const st = procStat(id.pid);
  return st !== null && st.start === id.start && st.state !== 'Z' && st.state !== 'X';
}

/** USER_HZ: the unit of /proc start times; 100 on every Linux architecture cocoon runs on. */
const CLOCK_TICKS_PER_SECOND = 100;
let bootMs: number | undefined;

/** When `pid` started (ms since the epoch), or null when there is no such process. */
export function startedAtMs(pid: number): number | null {
  const st = procStat(pid);
  if (!st) return null;
  if (bootMs === undefined) {
    const btime = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1];
    bootMs = Number(btime) * 1000;
  }
  return bootMs + (st.start * 1000) / CLOCK_TICKS_PER_SECOND;
}
