/**
 * Typed errors and the exit codes every cocoon tool documents.
 *
 * | code | meaning |
 * | ---- | ------- |
 * | 0 | success |
 * | 1 | internal error (a bug; stack shown with `--log-level debug`) |
 * | 2 | usage error: bad flag, bad value, missing argument |
 * | 3 | not found: VM, image, snapshot, file |
 * | 4 | conflict: the name or resource already exists |
 * | 5 | busy: locked by another process or in use by another object |
 * | 6 | invalid state: e.g. starting a running VM |
 * | 7 | timeout: boot, stop or a lock took too long |
 * | 8 | missing dependency: a host tool or package is absent |
 * | 9 | invalid data: a file or stream that is not what it claims to be |
 * | 10 | external failure: a subprocess or hypervisor failed |
 * | 11 | permission denied: the store (or a file) belongs to another user |
 */
export const ExitCode = {
  Ok: 0,
  Internal: 1,
  Usage: 2,
  NotFound: 3,
  Conflict: 4,
  Busy: 5,
  InvalidState: 6,
  Timeout: 7,
  MissingDependency: 8,
  InvalidData: 9,
  External: 10,
  PermissionDenied: 11,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** A failure the user can act on: printed as one line, exits with its code. */
export class CocoonError extends Error {
  readonly exitCode: ExitCodeValue;
  constructor(exitCode: ExitCodeValue, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** Bad input on the command line; the message names the flag and the fix. */
export class UsageError extends CocoonError {
  constructor(message: string) {
    super(ExitCode.Usage, message);
  }
}

export class NotFoundError extends CocoonError {
  constructor(message: string) {
    super(ExitCode.NotFound, message);
  }
}

export class ConflictError extends CocoonError {
  constructor(message: string) {
    super(ExitCode.Conflict, message);
  }
}

export class BusyError extends CocoonError {
  constructor(message: string) {
    super(ExitCode.Busy, message);
  }
}

export class InvalidStateError extends CocoonError {
  constructor(message: string) {
    super(ExitCode.InvalidState, message);
  }
}

export class TimeoutError extends CocoonError {
  constructor(message: string) {
    super(ExitCode.Timeout, message);
  }
}

export class MissingDependencyError extends CocoonError {
  constructor(message: string) {
    super(ExitCode.MissingDependency, message);
  }
}

export class InvalidDataError extends CocoonError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ExitCode.InvalidData, message, options);
  }
}

export class ExternalError extends CocoonError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ExitCode.External, message, options);
  }
}

/** The store or a file belongs to another user (typically: root's store, run as a user). */
export class PermissionError extends CocoonError {
  constructor(message: string) {
    super(ExitCode.PermissionDenied, message);
  }
}

/**
 * A system error that is the host's state, not a bug, as a typed error (or null): permission
 * denied (the store is root's) and a full disk. Any tool's runner applies it, so no command
 * has to wrap every file access.
 */
export function fromSystemError(err: unknown): CocoonError | null {
  const code = errnoCode(err);
  const path = err && typeof err === 'object' && 'path' in err && typeof err.path === 'string' ? err.path : null;
  if (code === 'EACCES' || code === 'EPERM') {
    return new PermissionError(
      `permission denied${path ? `: ${path}` : ''}: the cocoon store belongs to another user (normally root); run cocoon as root (sudo), or give folders of your own with --root-dir, --run-dir and --log-dir`,
    );
  }
  if (code === 'ENOSPC' || code === 'EDQUOT') return new ExternalError(`no space left on the device${path ? ` of ${path}` : ''}: free some space and try again`);
  return null;
}

/** Throws `Error('Assertion failed: …')` when an invariant is broken. */
export function assert(condition: unknown, what: string): asserts condition {
  if (!condition) throw new Error(`Assertion failed: ${what}`);
}

/** The Node.js errno code of an error (`ENOENT` …), if it has one. */
export function errnoCode(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}
