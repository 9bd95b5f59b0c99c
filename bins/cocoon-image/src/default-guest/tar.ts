/**
 * Tree → tar archive (the OCI layer format) through tar-stream's `pack` (the same library
 * that reads layers on import): root:root owners, a fixed mtime, entries in the tree's
 * sorted order, so an archive is byte-for-byte reproducible. tar-stream writes ustar and
 * falls back to PAX headers for what ustar cannot hold (long paths and link targets).
 */
import * as tar from 'tar-stream';
import { FIXED_MTIME } from './cpio.ts';
import type { TreeEntry } from './tree.ts';

const TYPE = { file: 'file', dir: 'directory', symlink: 'symlink', char: 'character-device' } as const;

/** Serializes entries to an uncompressed tar archive. */
export async function writeTar(entries: readonly TreeEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of pack) chunks.push(Buffer.from(chunk as Uint8Array));
  })();
  for (const entry of entries) {
    const data = entry.kind === 'file' ? Buffer.from(entry.data ?? new Uint8Array()) : Buffer.alloc(0);
    const header: tar.Header = {
      name: entry.kind === 'dir' ? `${entry.path}/` : entry.path,
      type: TYPE[entry.kind],
      mode: entry.mode & 0o7777,
      size: data.length,
      uid: 0,
      gid: 0,
      uname: 'root',
      gname: 'root',
      mtime: new Date(FIXED_MTIME * 1000),
      linkname: entry.kind === 'symlink' ? (entry.target ?? '') : '',
      devmajor: entry.rdev?.major ?? 0,
      devminor: entry.rdev?.minor ?? 0,
    };
    await new Promise<void>((resolve, reject) => pack.entry(header, data, (err) => (err ? reject(err) : resolve())));
  }
  pack.finalize();
  await collected;
  return Buffer.concat(chunks);
}
