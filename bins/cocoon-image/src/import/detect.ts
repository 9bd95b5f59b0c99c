/**
 * Format detection by magic bytes. Each detector looks at the first bytes only; wrappers
 * (gzip) are peeled and the inside is sniffed again. Issue 3 adds qcow2/raw cloud images by
 * adding a `Format` and a detector here and a handler in `index.ts`.
 */
export type Wrapper = 'gzip' | 'zstd';
export type Format = 'tar';

/** Bytes a caller should peek so every detector can decide. */
export const SNIFF_BYTES = 512;

const WRAPPERS: ReadonlyArray<{ kind: Wrapper; test: (head: Buffer) => boolean }> = [
  { kind: 'gzip', test: (h) => h.length >= 3 && h[0] === 0x1f && h[1] === 0x8b && h[2] === 0x08 },
  { kind: 'zstd', test: (h) => h.length >= 4 && h.readUInt32LE(0) === 0xfd2fb528 },
];

const FORMATS: ReadonlyArray<{ kind: Format; test: (head: Buffer) => boolean }> = [{ kind: 'tar', test: isTar }];

/** The compression wrapper `head` starts with, if any. */
export function detectWrapper(head: Buffer): Wrapper | null {
  return WRAPPERS.find((w) => w.test(head))?.kind ?? null;
}

/** The container format of unwrapped bytes, or null for anything cocoon cannot import. */
export function detectFormat(head: Buffer): Format | null {
  return FORMATS.find((f) => f.test(head))?.kind ?? null;
}

/** A POSIX/GNU tar header: `ustar` magic at offset 257 and a valid header checksum. */
export function isTar(head: Buffer): boolean {
  if (head.length < 512) return false;
  if (head.toString('latin1', 257, 262) !== 'ustar') return false;
  const stored = parseInt(head.toString('latin1', 148, 156).replace(/\0.*$/, '').trim(), 8);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : (head[i] as number);
  return stored === sum;
}
