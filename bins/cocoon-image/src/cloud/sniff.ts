/**
 * Content sniffing for cloud images: qcow2 by its magic, raw only after `qemu-img info`
 * agrees, and the usual wrong downloads (an HTML error page, compressed archives) refused
 * with a message that says what the file really is.
 */
import { InvalidDataError } from '@cocoon/common/errors';

export type CloudFormat = 'qcow2' | 'probe';

const REJECT: ReadonlyArray<{ what: string; hint: string; test: (h: Buffer) => boolean }> = [
  { what: 'an HTML page', hint: 'the URL probably points at an error or download page, not at the image', test: (h) => /^\s*(<!doctype html|<html|<head|<body|<\?xml)/i.test(h.toString('latin1', 0, 256)) },
  { what: 'a gzip file', hint: 'decompress it first (gunzip)', test: (h) => h[0] === 0x1f && h[1] === 0x8b },
  { what: 'an xz file', hint: 'decompress it first (xz -d)', test: (h) => h.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) },
  { what: 'a zstd file', hint: 'decompress it first (zstd -d)', test: (h) => h.length >= 4 && h.readUInt32LE(0) === 0xfd2fb528 },
  { what: 'a zip archive', hint: 'extract the disk image from it first', test: (h) => h.subarray(0, 4).equals(Buffer.from('PK\x03\x04', 'latin1')) },
  // A disk's first sector (boot code, partition table, zeros) is never all printable text.
  { what: 'a text file', hint: 'check what was downloaded or given', test: (h) => h.every((b) => b === 9 || b === 10 || b === 13 || (b >= 0x20 && b !== 0x7f)) },
];

/** What a cloud image is expected to be, for messages. */
export const DISK_IMAGE = 'a disk image (qcow2 or raw)';

/** Classifies the first bytes of a download; throws InvalidDataError on a known non-image. */
export function sniffCloudImage(head: Buffer, label: string, expected = DISK_IMAGE): CloudFormat {
  if (head.length === 0) throw new InvalidDataError(`${label} is empty (0 bytes), not ${expected}`);
  if (head.subarray(0, 4).equals(Buffer.from('QFI\xfb', 'latin1'))) return 'qcow2';
  const hit = REJECT.find((r) => r.test(head));
  if (hit) throw new InvalidDataError(`${label} is ${hit.what}, not ${expected}: ${hit.hint}`);
  return 'probe';
}
