/**
 * A writer for POSIX ustar archives (the OCI layer format): root:root owners, fixed
 * mtime, entries in the given order. Long paths use the ustar prefix field; a path that
 * does not fit is a bug in the caller (the default guest's paths are all short).
 */
import { FIXED_MTIME } from './cpio.ts';
import type { TreeEntry } from './tree.ts';

const BLOCK = 512;

/** Serializes entries to an uncompressed tar archive (with the two zero end blocks). */
export function writeTar(entries: readonly TreeEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const data = entry.kind === 'file' ? Buffer.from(entry.data ?? new Uint8Array()) : Buffer.alloc(0);
    parts.push(header(entry, data.length), data, Buffer.alloc((BLOCK - (data.length % BLOCK)) % BLOCK));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

function header(entry: TreeEntry, size: number): Buffer {
  const block = Buffer.alloc(BLOCK);
  const { name, prefix } = splitPath(entry.kind === 'dir' ? `${entry.path}/` : entry.path);
  block.write(name, 0, 100, 'utf8');
  octal(block, 100, 8, entry.mode & 0o7777);
  octal(block, 108, 8, 0); // uid
  octal(block, 116, 8, 0); // gid
  octal(block, 124, 12, size);
  octal(block, 136, 12, FIXED_MTIME);
  block.write(typeFlag(entry), 156, 1, 'ascii');
  if (entry.kind === 'symlink') writeField(block, 157, 100, entry.target ?? '', entry.path);
  block.write('ustar\0', 257, 6, 'ascii');
  block.write('00', 263, 2, 'ascii');
  block.write('root', 265, 32, 'ascii');
  block.write('root', 297, 32, 'ascii');
  octal(block, 329, 8, entry.rdev?.major ?? 0);
  octal(block, 337, 8, entry.rdev?.minor ?? 0);
  block.write(prefix, 345, 155, 'utf8');
  // The checksum is computed with its own field read as eight spaces.
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return block;
}

function typeFlag(entry: TreeEntry): string {
  return { file: '0', symlink: '2', char: '3', dir: '5' }[entry.kind];
}

/** Splits a path into ustar's name (≤100 bytes) and prefix (≤155 bytes) at a slash. */
function splitPath(path: string): { name: string; prefix: string } {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: '' };
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name !== '') return { name, prefix };
  }
  throw new Error(`Assertion failed: path too long for ustar: ${path}`);
}

function writeField(block: Buffer, offset: number, length: number, value: string, path: string): void {
  if (Buffer.byteLength(value) > length) throw new Error(`Assertion failed: link target too long for ustar: ${path}`);
  block.write(value, offset, length, 'utf8');
}

function octal(block: Buffer, offset: number, length: number, value: number): void {
  block.write(`${value.toString(8).padStart(length - 1, '0')}\0`, offset, length, 'ascii');
}
