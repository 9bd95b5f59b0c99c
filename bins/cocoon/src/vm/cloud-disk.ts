/**
 * Disks of a VM booted from a cloud image: a qcow2 overlay whose backing file is the
 * read-only image in the store (grown to `--storage`, never shrunk), and a private copy
 * of the UEFI variable store.
 */
import { copyFile, rm } from 'node:fs/promises';
import { run } from '@cocoon/common/exec';
import { QemuImgInfoSchema } from '@cocoon/common/schemas/qemu-img';

/** Debian `ovmf`'s empty UEFI variable store, copied per VM (the firmware writes to it). */
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS.fd';

/** Creates `path` as a qcow2 overlay on `base`; returns its virtual size in bytes. */
export async function createCloudOverlay(base: string, path: string, storage: number): Promise<number> {
  const info = QemuImgInfoSchema.parse(JSON.parse((await run('qemu-img', ['info', '--output=json', base])).stdout));
  const size = Math.max(storage, info['virtual-size']);
  try {
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', base, '-F', info.format, path, String(size)]);
  } catch (err) {
    await rm(path, { force: true });
    throw err;
  }
  return size;
}

/** Copies the empty UEFI variable store to `path` (mode 0600). */
export async function createUefiVars(path: string): Promise<void> {
  await copyFile(OVMF_VARS, path);
}
