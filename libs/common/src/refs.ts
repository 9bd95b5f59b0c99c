/** Reference resolution shared by every module: ID, then name, then unique ID prefix. */
import { NotFoundError, UsageError } from './errors.ts';
import { randomBytes } from 'node:crypto';

export interface Named {
  id: string;
  name?: string;
}

/** Minimum length of an ID prefix accepted as a reference. */
export const MIN_PREFIX = 3;

/**
 * Resolves `ref` against `items` by exact ID, exact name, then unique ID prefix. A miss is
 * `<kind> not found: <ref>`: the Go cocoon's clients match "VM not found" and
 * "snapshot not found" in its messages.
 */
export function resolveRef<T extends { id: string }>(items: readonly T[], ref: string, kind: string, nameOf: (item: T) => string | undefined = defaultName): T {
  const byId = items.find((i) => i.id === ref);
  if (byId) return byId;
  const byName = items.find((i) => nameOf(i) === ref);
  if (byName) return byName;
  if (ref.length >= MIN_PREFIX) {
    const matches = items.filter((i) => i.id.startsWith(ref));
    if (matches.length === 1 && matches[0]) return matches[0];
    if (matches.length > 1) {
      throw new UsageError(`${kind} reference "${ref}" is ambiguous: it matches ${matches.length} ${kind}s; give more characters of the ID`);
    }
  }
  throw new NotFoundError(`${kind} not found: ${ref}`);
}

function defaultName(item: object): string | undefined {
  return 'name' in item && typeof item.name === 'string' ? item.name : undefined;
}

/** A new random ID: 32 lowercase hex characters (the first 12 are shown in tables). */
export function newId(): string {
  return randomBytes(16).toString('hex');
}

/**
 * Names of VMs and snapshots, as the Go cocoon: a letter or digit, then letters, digits,
 * dots, underscores and hyphens, at most 63 characters.
 */
export const VM_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/;

/** Throws a UsageError naming `flag` unless `name` is a valid VM (or snapshot) name. */
export function validateVmName(name: string, flag = '--name'): void {
  if (!VM_NAME_RE.test(name)) {
    throw new UsageError(`${flag}: "${name}" is not a valid name (a letter or digit, then letters, digits, ".", "_" or "-"; at most 63)`);
  }
}

/**
 * The guest hostname for a VM name: a DNS label (lowercase; "." and "_" become "-"; no
 * trailing "-"). Names that differ only in case would share one, so names are unique
 * regardless of case.
 */
export function hostnameFor(name: string): string {
  return name.toLowerCase().replace(/[._]/g, '-').replace(/-+$/, '') || 'cocoon';
}
