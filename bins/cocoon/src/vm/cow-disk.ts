/** Writable raw disks: sparse files, formatted ext4 on the host (the COW disk, ext4 data disks). */
import { open, rm } from 'node:fs/promises';
import { run } from '@cocoon/common/exec';
import { diskTooBig } from './limits.ts';

/** Creates a sparse `bytes`-sized file at `path` (mode 0600; an existing file is an error). */
export async function createSparseFile(path: string, bytes: number): Promise<void> {
  const fh = await open(path, 'wx', 0o600);
  try {
    await fh.truncate(bytes);
  } catch (err) {
    await rm(path, { force: true });
    throw diskTooBig(err, bytes);
  } finally {
    await fh.close();
  }
}

/** Creates a sparse `bytes`-sized ext4 image labelled `label` at `path` (removed again on failure). */
export async function createExt4Disk(path: string, bytes: number, label: string): Promise<void> {
  await createSparseFile(path, bytes);
  try {
    // NOTE: lazy init keeps this fast on big sparse files; the guest kernel finishes it in the background.
    await run('mke2fs', ['-t', 'ext4', '-q', '-F', '-m', '0', '-L', label.slice(0, 16), '-E', 'lazy_itable_init=1,lazy_journal_init=1,nodiscard', path]);
  } catch (err) {
    await rm(path, { force: true });
    throw err;
  }
}

/** The COW disk: ext4 labelled `cocoon-cow`, mounted as the overlay's upper layer by the guest. */
export async function createCowDisk(path: string, bytes: number): Promise<void> {
  await createExt4Disk(path, bytes, 'cocoon-cow');
}
