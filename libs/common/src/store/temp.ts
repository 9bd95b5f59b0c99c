/**
 * Temp files and folders that name their owner. Every temp cocoon makes under a store's
 * `tmp/` (downloads, staging folders) is `<kind>-<pid>.<start>-<random>`: the owner's PID and
 * start time. So:
 * - a command stopped by SIGINT, SIGTERM or SIGHUP removes its own (synchronously, in the
 *   signal handler, then dies of the signal as it would have);
 * - after a SIGKILL, the next command that makes a temp in the same folder removes those whose
 *   owner is gone (a PID reused by another process does not keep them: the start time differs).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { identityAlive, isRunning, selfIdentity } from '../proc.ts';

/** `<pid>.<start>` of this process, as temp names carry it. */
export function ownerTag(): string {
  const me = selfIdentity();
  return `${me.pid}.${me.start}`;
}

/** Folders this process made temps in (swept of the dead, cleaned of its own on a signal). */
const prepared = new Set<string>();

/**
 * Makes `dir` (0700), removes temps of dead owners from it (once per process and folder),
 * and arranges for this process's own temps there to go on SIGINT/SIGTERM/SIGHUP.
 */
export function prepareTempDir(dir: string): void {
  if (prepared.has(dir)) return;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  sweepDeadOwners(dir);
  prepared.add(dir);
  installSignalCleanup();
}

/** A path for a new temp file of `kind` in `dir` (not created). */
export function tempPath(dir: string, kind: string): string {
  prepareTempDir(dir);
  return join(dir, `${kind}-${ownerTag()}-${randomBytes(4).toString('hex')}`);
}

/** A new private temp folder of `kind` in `dir`. */
export async function makeTempDir(dir: string, kind: string): Promise<string> {
  prepareTempDir(dir);
  return mkdtemp(join(dir, `${kind}-${ownerTag()}-`));
}

/** `<kind>-<pid>.<start>-…`, and the `<kind>-<pid>-…` names of cocoon 0.1 (PID only). */
const OWNED = /^\.?[a-z][a-z.-]*?-(\d+)(?:\.(\d+))?-/;

/** The owner a temp name carries, or null for names that are not cocoon temps. */
export function ownerOf(name: string): { pid: number; start: number | null } | null {
  const m = OWNED.exec(name);
  return m ? { pid: Number(m[1]), start: m[2] === undefined ? null : Number(m[2]) } : null;
}

/** Removes the temps in `dir` whose owner process is gone; returns their names. */
export function sweepDeadOwners(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const owner = ownerOf(name);
    if (!owner) continue;
    const alive = owner.start === null ? isRunning(owner.pid) : identityAlive({ pid: owner.pid, start: owner.start });
    if (alive) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/** Removes this process's own temps from every folder it made them in (synchronous: signal handlers). */
export function removeOwnTemps(): void {
  const mine = `-${ownerTag()}-`;
  for (const dir of prepared) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) if (name.includes(mine)) rmSync(join(dir, name), { recursive: true, force: true });
  }
}

const CLEANUP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let installed = false;

/**
 * On SIGINT/SIGTERM/SIGHUP: remove this process's temps, then die of the same signal (the
 * default action once this handler is gone), so the caller sees 128+N as before. Installed
 * only by commands that make temps, so commands with their own signal handling (vm exec
 * forwards Ctrl-C to the guest) are not affected.
 */
function installSignalCleanup(): void {
  if (installed) return;
  installed = true;
  const onSignal = (signal: NodeJS.Signals): void => {
    removeOwnTemps();
    for (const s of CLEANUP_SIGNALS) process.off(s, onSignal);
    process.kill(process.pid, signal);
  };
  for (const s of CLEANUP_SIGNALS) process.on(s, onSignal);
}
