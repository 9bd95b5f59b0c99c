/**
 * What a disk image must be before it is stored: a format qemu-img reads, without a backing
 * file, a sane virtual size, a consistent qcow2 (`qemu-img check`), and raw only when it
 * looks like a disk (an MBR or GPT partition table) or the user said `--disk-format raw`.
 * Without these, a truncated qcow2 (300 bytes of a header claiming 100 TiB) or any blob of
 * random bytes would be stored as an image and fail only when a VM boots from it.
 */
import { InvalidDataError } from '@cocoon/common/errors';
import { run, spawn } from '@cocoon/common/exec';
import { formatSize } from '@cocoon/common/units';
import { QemuImgInfoSchema, type QemuImgInfo } from '@cocoon/common/schemas/qemu-img';

/** `--disk-format`: what the user says the disk is (`auto`: find out). */
export const DISK_FORMATS = ['auto', 'qcow2', 'raw'] as const;
export type DiskFormat = (typeof DISK_FORMATS)[number];

/** Disk formats qemu-img may report that are converted; anything else is refused. */
const CONVERTIBLE = new Set(['raw', 'qcow2', 'vmdk', 'vhdx', 'vpc', 'vdi']);

/**
 * The largest virtual size accepted: 16 TiB, the largest file ext4 holds. No published cloud
 * image comes near it; a header claiming more is corrupt (or hostile).
 */
export const MAX_VIRTUAL_BYTES = 16 * 2 ** 40;

/** qemu-img's view of `path` (`format`: forced, or probed when null), checked for what cocoon refuses. */
export async function qemuInfo(path: string, format: string | null, label: string): Promise<QemuImgInfo> {
  const args = ['info', '--output', 'json', ...(format ? ['-f', format] : []), path];
  const out = await run('qemu-img', args).catch((err: Error) => {
    throw new InvalidDataError(`${label} is not a disk image qemu-img can read (${err.message})`);
  });
  const info = QemuImgInfoSchema.parse(JSON.parse(out.stdout));
  if (!CONVERTIBLE.has(info.format)) throw new InvalidDataError(`${label}: disk format ${info.format} is not supported (qcow2 or raw)`);
  // SECURITY: a backing file would let an image read any host file; cloud images never need one.
  if (info['backing-filename']) throw new InvalidDataError(`${label}: qcow2 with a backing file (${info['backing-filename']}) is refused`);
  if (info['virtual-size'] === 0) throw new InvalidDataError(`${label}: the disk has a virtual size of 0`);
  if (info['virtual-size'] > MAX_VIRTUAL_BYTES) {
    throw new InvalidDataError(`${label}: a virtual size of ${formatSize(info['virtual-size'])} is more than the ${formatSize(MAX_VIRTUAL_BYTES)} cocoon accepts (a truncated or corrupt image?)`);
  }
  return info;
}

/**
 * Runs `qemu-img check` on a qcow2: errors or corruption (a truncated download, a damaged
 * file) refuse it; leaked clusters only waste space and are accepted.
 */
export async function checkQcow2(path: string, label: string): Promise<void> {
  const r = await spawn('qemu-img', ['check', '-q', '-f', 'qcow2', path], { reject: false, stdin: 'ignore' });
  // Exit codes of qemu-img check: 0 clean, 3 leaks only; 1 check failed, 2 corruption.
  if (r.exitCode === 0 || r.exitCode === 3) return;
  const why = String(r.stderr ?? '').trim().split('\n').filter(Boolean).pop() ?? `qemu-img check exit ${r.exitCode}`;
  throw new InvalidDataError(`${label} is a damaged or truncated qcow2 (${why})`);
}

/**
 * Whether the first 1,024 bytes of a disk hold a partition table: the MBR boot signature
 * (0x55 0xAA at 510, also on a GPT disk's protective MBR) or a GPT header at 512.
 */
export function hasPartitionTable(head: Buffer): boolean {
  const mbr = head.length >= 512 && head[510] === 0x55 && head[511] === 0xaa;
  const gpt = head.length >= 520 && head.toString('latin1', 512, 520) === 'EFI PART';
  return mbr || gpt;
}

/** Refuses raw bytes that do not look like a disk unless the user said `--disk-format raw`. */
export function checkRaw(head: Buffer, bytes: number, label: string, expected: string, format: DiskFormat): void {
  // qemu-img calls anything it does not recognise raw (and rounds its size up to a sector);
  // a real raw disk is whole sectors.
  if (bytes % 512 !== 0) throw new InvalidDataError(`${label} is not ${expected}: not qcow2, and ${bytes} bytes is not a whole number of 512-byte sectors for a raw disk`);
  if (format !== 'raw' && !hasPartitionTable(head)) {
    throw new InvalidDataError(`${label} is not recognisable as ${expected}: not qcow2 and no MBR or GPT partition table; if it is a raw disk without one (e.g. a bare filesystem), say so with --disk-format raw`);
  }
}
