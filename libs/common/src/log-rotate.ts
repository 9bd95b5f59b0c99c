/**
 * Log rotation by size, count and age, for the engine's own log (`<log_dir>/cocoon.log`)
 * and each VM's console and hypervisor logs. Generations are `<file>.1` (newest) …
 * `<file>.N`; companion files (a console log's time marks) move with their log.
 *
 * There is no daemon: rotation happens when a process opens the engine log, when a VM
 * starts (its hypervisor is not running, so a rename is safe), and in `cocoon gc` (which
 * copies and truncates the logs of running VMs: their hypervisor keeps the file open with
 * O_APPEND, so it goes on writing at the new end). `rotateLocked` serialises rotations of
 * one file across processes with a kernel lock and re-checks the size once it holds it, so
 * two processes that both saw a full log rotate it once.
 */
import { closeSync, constants, copyFileSync, openSync, readdirSync, renameSync, rmSync, statSync, truncateSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { native } from './native.ts';

export interface RotationPolicy {
  /** Rotate once the file is larger than this (bytes). */
  maxBytes: number;
  /** Rotated generations kept (0: the log is cut, nothing kept). */
  maxFiles: number;
  /** Rotated generations older than this are deleted (ms; 0: no limit). */
  maxAgeMs: number;
}

export const DEFAULT_ROTATION: RotationPolicy = { maxBytes: 10 * 2 ** 20, maxFiles: 5, maxAgeMs: 30 * 86_400_000 };

/** The policy of a resolved config's `log_max_*` keys. */
export function rotationPolicy(cfg: { log_max_size: number; log_max_files: number; log_max_age: number }): RotationPolicy {
  return { maxBytes: cfg.log_max_size, maxFiles: cfg.log_max_files, maxAgeMs: cfg.log_max_age * 1000 };
}

/** Existing rotated generations of `file`, newest first (`file.1`, `file.2` …). */
export function generations(file: string): string[] {
  const base = basename(file);
  let names: string[];
  try {
    names = readdirSync(dirname(file));
  } catch {
    return [];
  }
  return names
    .map((n) => (n.startsWith(`${base}.`) ? Number(n.slice(base.length + 1)) : NaN))
    .filter((n) => Number.isInteger(n) && n > 0)
    .sort((a, b) => a - b)
    .map((n) => `${file}.${n}`);
}

function sizeOf(file: string): number {
  return statSync(file, { throwIfNoEntry: false })?.size ?? 0;
}

/**
 * Rotates `file` (and its `companions`) when it is larger than the policy allows, then drops
 * generations past the count and age limits. With `copyTruncate` the file is copied and cut
 * in place (for a file a live process holds open). The caller makes sure no other process
 * rotates the same file at the same time. Returns whether it rotated.
 */
export function rotateIfNeeded(file: string, policy: RotationPolicy, opts: { companions?: string[]; copyTruncate?: boolean } = {}): boolean {
  const rotate = sizeOf(file) > policy.maxBytes;
  if (rotate) {
    for (const f of [file, ...(opts.companions ?? [])]) shift(f, policy.maxFiles, opts.copyTruncate === true && f === file);
  }
  prune(file, policy, opts.companions ?? []);
  return rotate;
}

/** `f.N` → `f.N+1` …, `f` → `f.1` (or copy + truncate); with no generations kept, `f` is cut. */
function shift(f: string, keep: number, copyTruncate: boolean): void {
  if (keep === 0) {
    if (copyTruncate) truncateSync(f, 0);
    else rmSync(f, { force: true });
    return;
  }
  for (const g of generations(f).reverse()) {
    const n = Number(g.slice(f.length + 1));
    if (n >= keep) rmSync(g, { force: true });
    else renameSync(g, `${f}.${n + 1}`);
  }
  if (statSync(f, { throwIfNoEntry: false }) === undefined) return;
  if (copyTruncate) {
    copyFileSync(f, `${f}.1`);
    truncateSync(f, 0);
  } else {
    renameSync(f, `${f}.1`);
  }
}

/** Deletes generations past the count and (by modification time) the age limit. */
function prune(file: string, policy: RotationPolicy, companions: string[]): void {
  const now = Date.now();
  for (const g of generations(file)) {
    const n = Number(g.slice(file.length + 1));
    const mtime = statSync(g, { throwIfNoEntry: false })?.mtimeMs ?? now;
    if (n > policy.maxFiles || (policy.maxAgeMs > 0 && now - mtime > policy.maxAgeMs)) {
      for (const f of [file, ...companions]) rmSync(`${f}.${n}`, { force: true });
    }
  }
}

const EWOULDBLOCK = 11;
/** How long an opener waits for another process's rotation before it leaves the file alone. */
const ROTATE_WAIT_MS = 1000;

/**
 * `rotateIfNeeded` under a kernel lock on `<file>.lock`. A process that finds the lock held
 * waits for it (a rotation takes milliseconds; at most ROTATE_WAIT_MS, so a stuck holder
 * never stalls a command), then re-checks and finds nothing due: had it skipped at once, it
 * could open the file before the holder renamed it and write its line into the old
 * generation (seen under load). Cheap when the file is not full (one stat, no lock) unless
 * `prune` asks to check the generations' count and age anyway. Returns whether this
 * process rotated.
 */
export function rotateLocked(file: string, policy: RotationPolicy, opts: { companions?: string[]; copyTruncate?: boolean; prune?: boolean } = {}): boolean {
  if (!opts.prune && sizeOf(file) <= policy.maxBytes) return false;
  const fd = openSync(`${file}.lock`, constants.O_RDWR | constants.O_CREAT, 0o600);
  try {
    let rc = native().flock(fd, true, true);
    for (const deadline = Date.now() + ROTATE_WAIT_MS; rc === EWOULDBLOCK && Date.now() < deadline; rc = native().flock(fd, true, true)) {
      // NOTE: a synchronous 10 ms sleep: the logger is built synchronously, before any output.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
    if (rc === EWOULDBLOCK) return false;
    if (rc !== 0) throw new Error(`flock ${file}.lock: errno ${rc}`);
    // NOTE: re-checked under the lock: another process may have rotated it meanwhile.
    return rotateIfNeeded(file, policy, opts);
  } finally {
    closeSync(fd);
  }
}

/** Bytes taken by `file` and its rotated generations. */
export function logBytes(file: string): number {
  return [file, ...generations(file)].reduce((sum, f) => sum + sizeOf(f), 0);
}
