/**
 * Cross-process locks: flock(2) on a file under `<root>/locks`. The kernel drops the
 * lock when the holder's descriptor closes, including when the holder dies, so there
 * is no stale-lock guessing.
 */
import { constants, mkdirSync, openSync, closeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { BusyError, ExternalError } from '../errors.ts';
import { native } from '../native.ts';

const EWOULDBLOCK = 11;

export interface LockOptions {
  /** How long to wait for the lock before failing with a BusyError (ms). */
  timeoutMs?: number;
  /** What is locked, for the error message. */
  what?: string;
}

/** A held lock; `release()` closes the descriptor, which drops the lock. */
export interface HeldLock {
  release(): void;
}

/** Waits for an exclusive lock on `path` (created 0600 if missing). */
export async function acquireLock(path: string, opts: LockOptions = {}): Promise<HeldLock> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  mkdirSync(dirnameOf(path), { recursive: true, mode: 0o700 });
  // NOTE: libuv opens every file O_CLOEXEC, so hypervisor children never inherit the lock.
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
  const deadline = Date.now() + timeoutMs;
  let delay = 2;
  try {
    for (;;) {
      const rc = native().flock(fd, true, true);
      if (rc === 0) break;
      if (rc !== EWOULDBLOCK) throw new ExternalError(`flock ${path}: errno ${rc}`);
      if (Date.now() >= deadline) {
        throw new BusyError(`${opts.what ?? path} is locked by another cocoon process (waited ${timeoutMs} ms)`);
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 50);
    }
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      closeSync(fd);
    },
  };
}

/** Runs `fn` while holding the lock on `path`. */
export async function withLock<T>(path: string, fn: () => Promise<T>, opts?: LockOptions): Promise<T> {
  const lock = await acquireLock(path, opts);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

function dirnameOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

/** A lock taken without waiting; `fd` is the locked file, open read-write. */
export interface TriedLock extends HeldLock {
  readonly fd: number;
}

/**
 * Takes the exclusive lock on `path` (created 0600, its folder 0700) if nobody holds it
 * right now; null when somebody does (never waits).
 */
export function tryLock(path: string): TriedLock | null {
  mkdirSync(dirnameOf(path), { recursive: true, mode: 0o700 });
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
  const rc = native().flock(fd, true, true);
  if (rc !== 0) {
    closeSync(fd);
    if (rc === EWOULDBLOCK) return null;
    throw new ExternalError(`flock ${path}: errno ${rc}`);
  }
  let released = false;
  return {
    fd,
    release() {
      if (released) return;
      released = true;
      closeSync(fd);
    },
  };
}
