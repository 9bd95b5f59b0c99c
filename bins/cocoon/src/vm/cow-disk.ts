/** The writable COW disk: a sparse raw file formatted ext4 on the host, mounted as overlay upper by the guest. */
import { open, rm } from 'node:fs/promises';
import { run } from '@cocoon/common/exec';
import { diskTooBig } from './limits.ts';

/** Creates a sparse `bytes`-sized ext4 image at `path` (removed again on failure). */
export async function createCowDisk(path: string, bytes: number): Promise<void> {
  const fh = await open(path, 'wx', 0o600);
  try {
    await fh.truncate(bytes);
  } catch (err) {
    await rm(path, { force: true });
    throw diskTooBig(err, bytes);
  } finally {
    await fh.close();
  }
  try {
    // NOTE: lazy init keeps this fast on big sparse files; the guest kernel finishes it in the background.
    await run('mke2fs', ['-t', 'ext4', '-q', '-F', '-L', 'cocoon-cow', '-E', 'lazy_itable_init=1,lazy_journal_init=1,nodiscard', path]);
  } catch (err) {
    await rm(path, { force: true });
    throw err;
  }
}
