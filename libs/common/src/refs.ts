/** Reference resolution shared by every module: ID, then name, then unique ID prefix. */
import { NotFoundError, UsageError } from './errors.ts';
import { randomBytes } from 'node:crypto';

export interface Named {
  id: string;
  name?: string;
}

/** Minimum length of an ID prefix accepted as a reference. */
export const MIN_PREFIX = 3;

/** Resolves `ref` against `items` by exact ID, exact name, then unique ID prefix. */
export function resolveRef<T extends Named>(items: readonly T[], ref: string, kind: string): T {
  const byId = items.find((i) => i.id === ref);
  if (byId) return byId;
  const byName = items.find((i) => i.name === ref);
  if (byName) return byName;
  if (ref.length >= MIN_PREFIX) {
    const matches = items.filter((i) => i.id.startsWith(ref));
    if (matches.length === 1 && matches[0]) return matches[0];
    if (matches.length > 1) {
      throw new UsageError(`${kind} reference "${ref}" is ambiguous: it matches ${matches.length} ${kind}s; give more characters of the ID`);
    }
  }
  throw new NotFoundError(`${kind} "${ref}" not found`);
}

/** A new random ID: 32 lowercase hex characters (the first 12 are shown in tables). */
export function newId(): string {
  return randomBytes(16).toString('hex');
}

/** Names of VMs: a DNS label, because the name becomes the guest's hostname. */
export const VM_NAME_RE = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;

/** Throws a UsageError naming `--name` unless `name` is a valid VM name. */
export function validateVmName(name: string): void {
  if (!VM_NAME_RE.test(name)) {
    throw new UsageError(`--name: "${name}" is not a valid VM name (letters, digits and inner hyphens, at most 63; it becomes the hostname)`);
  }
}
