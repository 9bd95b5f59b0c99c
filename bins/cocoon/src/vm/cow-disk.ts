/**
 * Writable raw disks: sparse files, formatted ext4 on the host (the COW disk, ext4 data disks).
 *
 * No mke2fs per VM for the COW disk: one template per disk size
 * (`<root>/cache/cow/ext4-<bytes>.raw`), made once with mke2fs under a lock, is copied into
 * the VM's run dir keeping its holes (a reflink where the filesystem shares extents, else
 * only its data: 0.6 MB in 10 extents for 1 GiB, 4.3 MB for 10 GiB). Creating an OCI VM
 * then runs no subprocess at all. Every COW disk made from one template has the same
 * filesystem UUID; each guest sees only its own.
 */
import { existsSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Layout } from '@cocoon/common/layout';
import { copySparse } from '@cocoon/common/snapshots/sparse';
import { withLock } from '@cocoon/common/store/lock';
import { tempPath } from '@cocoon/common/store/temp';
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
    // NOTE: imported here: creating a VM needs mke2fs (execa) only for a new template or a data disk.
    const { run } = await import('@cocoon/common/exec');
    // NOTE: lazy init keeps this fast on big sparse files; the guest kernel finishes it in the background.
    await run('mke2fs', ['-t', 'ext4', '-q', '-F', '-m', '0', '-L', label.slice(0, 16), '-E', 'lazy_itable_init=1,lazy_journal_init=1,nodiscard', path]);
  } catch (err) {
    await rm(path, { force: true });
    throw err;
  }
}

/** Where the template of a `bytes`-sized COW disk is kept. */
export function cowTemplatePath(layout: Layout, bytes: number): string {
  return join(layout.root, 'cache', 'cow', `ext4-${bytes}.raw`);
}

/** The COW disk at `path` (which must not exist; nothing is left on failure): ext4 labelled `cocoon-cow`, the guest's overlay upper layer. */
export async function createCowDisk(layout: Layout, path: string, bytes: number): Promise<void> {
  await copySparse(await cowTemplate(layout, bytes), path);
}

/** The template for `bytes`, made first when missing (once, however many creates race). */
async function cowTemplate(layout: Layout, bytes: number): Promise<string> {
  const template = cowTemplatePath(layout, bytes);
  if (existsSync(template)) return template;
  await mkdir(join(layout.root, 'cache', 'cow'), { recursive: true, mode: 0o700 });
  await withLock(`${template}.lock`, async () => {
    if (existsSync(template)) return;
    // NOTE: a temp that names its owner: one a killed create left is swept by the next.
    const tmp = tempPath(join(layout.root, 'cache', 'cow'), 'cow');
    try {
      await createExt4Disk(tmp, bytes, 'cocoon-cow');
      await rename(tmp, template);
    } finally {
      await rm(tmp, { force: true });
    }
  }, { what: 'the COW disk template' });
  return template;
}
