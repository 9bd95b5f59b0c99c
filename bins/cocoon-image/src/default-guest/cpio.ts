/**
 * A writer for the "newc" cpio format (the only one the kernel unpacks as an initramfs).
 * Owners root:root, mtime fixed, inode numbers in entry order: reproducible output.
 */
import { fullMode, type TreeEntry } from './tree.ts';

/** Fixed timestamp (2024-01-01T00:00:00Z) so rebuilds produce identical archives. */
export const FIXED_MTIME = 1704067200;

const TRAILER = 'TRAILER!!!';

/** Serializes entries (in the given order) to an uncompressed newc cpio archive. */
export function writeCpio(entries: readonly TreeEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const entry of entries) {
    parts.push(...record(entry.path, entry, ino++));
  }
  parts.push(...record(TRAILER, null, 0));
  return Buffer.concat(parts);
}

function record(name: string, entry: TreeEntry | null, ino: number): Buffer[] {
  const body = entry ? payload(entry) : Buffer.alloc(0);
  const nameBytes = Buffer.from(`${name}\0`, 'utf8');
  const fields = [
    ino,
    entry ? fullMode(entry) : 0,
    0, // uid
    0, // gid
    entry?.kind === 'dir' ? 2 : 1, // nlink
    entry ? FIXED_MTIME : 0,
    body.length,
    0, // devmajor
    0, // devminor
    entry?.rdev?.major ?? 0,
    entry?.rdev?.minor ?? 0,
    nameBytes.length,
    0, // check (unused by newc)
  ];
  const header = Buffer.from(`070701${fields.map(hex8).join('')}`, 'ascii');
  // Name and data are each padded so the next thing starts on a 4-byte boundary.
  return [header, nameBytes, pad(header.length + nameBytes.length), body, pad(body.length)];
}

function payload(entry: TreeEntry): Buffer {
  if (entry.kind === 'file') return Buffer.from(entry.data ?? new Uint8Array());
  if (entry.kind === 'symlink') return Buffer.from(entry.target ?? '', 'utf8');
  return Buffer.alloc(0);
}

function hex8(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new Error(`Assertion failed: cpio field ${value} out of range`);
  return value.toString(16).padStart(8, '0');
}

function pad(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}
