/**
 * An in-memory file tree, the one input of the cpio and tar writers. Paths are relative
 * (`bin/busybox`), owners are always root:root, and `entries()` is sorted so the
 * archives built from a tree are byte-for-byte reproducible.
 */
import { posix } from 'node:path';

export type EntryKind = 'dir' | 'file' | 'symlink' | 'char';

export interface TreeEntry {
  /** Relative path without a leading slash, `/`-separated. */
  path: string;
  kind: EntryKind;
  /** Permission bits only (e.g. 0o755); the type comes from `kind`. */
  mode: number;
  /** File contents (`file`). */
  data?: Uint8Array;
  /** Link target (`symlink`). */
  target?: string;
  /** Device numbers (`char`). */
  rdev?: { major: number; minor: number };
}

/** Permission bits plus the S_IFMT type bits of an entry, as cpio and stat want them. */
export function fullMode(entry: TreeEntry): number {
  const type = { dir: 0o040000, file: 0o100000, symlink: 0o120000, char: 0o020000 }[entry.kind];
  return type | (entry.mode & 0o7777);
}

/** A tree of entries keyed by path; parents are created as 0755 directories on demand. */
export class Tree {
  private readonly items = new Map<string, TreeEntry>();

  /** Adds a directory (and its parents). */
  dir(path: string, mode = 0o755): this {
    return this.put({ path: clean(path), kind: 'dir', mode });
  }

  /** Adds a regular file. */
  file(path: string, data: Uint8Array | string, mode = 0o644): this {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    return this.put({ path: clean(path), kind: 'file', mode, data: bytes });
  }

  /** Adds a symbolic link. */
  symlink(path: string, target: string): this {
    return this.put({ path: clean(path), kind: 'symlink', mode: 0o777, target });
  }

  /** Adds a character device node. */
  char(path: string, major: number, minor: number, mode = 0o600): this {
    return this.put({ path: clean(path), kind: 'char', mode, rdev: { major, minor } });
  }

  has(path: string): boolean {
    return this.items.has(clean(path));
  }

  /** All entries, parents before children, in a stable order. */
  entries(): TreeEntry[] {
    return [...this.items.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  private put(entry: TreeEntry): this {
    const parent = posix.dirname(entry.path);
    if (parent !== '.' && !this.items.has(parent)) this.dir(parent);
    const existing = this.items.get(entry.path);
    // A directory created implicitly may be re-added with its real mode; anything else is a bug.
    if (existing && !(existing.kind === 'dir' && entry.kind === 'dir')) {
      throw new Error(`Assertion failed: ${entry.path} added twice to the guest tree`);
    }
    this.items.set(entry.path, entry);
    return this;
  }
}

/** Normalizes a path and refuses anything that could escape the tree. */
function clean(path: string): string {
  const normal = posix.normalize(path).replace(/^\/+/, '').replace(/\/+$/, '');
  if (normal === '' || normal === '.' || normal.split('/').includes('..')) {
    throw new Error(`Assertion failed: bad guest path "${path}"`);
  }
  return normal;
}
