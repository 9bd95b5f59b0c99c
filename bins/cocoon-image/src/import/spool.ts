/**
 * Spools an outer image tarball (OCI layout or docker save) to a staging folder, file by file,
 * hashing each one on the way. Names are never used as paths: file i is written as `<dir>/<i>`,
 * so nothing in the archive can point outside the staging folder.
 */
import { createHash } from 'node:crypto';
import { open, readFile, statfs } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { InvalidDataError } from '@cocoon/common/errors';
import { formatSize } from '@cocoon/common/units';

export interface SpooledFile {
  path: string;
  size: number;
  /** `sha256:<hex>` of the file's bytes. */
  digest: string;
}

/** The files of a spooled archive by normalized name, plus the archive's symlinks. */
export class Spool {
  readonly files = new Map<string, SpooledFile>();
  readonly links = new Map<string, string>();

  constructor(readonly dir: string, readonly label: string) {}

  /** The spooled file at `name` (following archive-internal symlinks), or undefined. */
  get(name: string): SpooledFile | undefined {
    let current = normalizeName(name);
    for (let hops = 0; current !== null && hops < 8; hops++) {
      const file = this.files.get(current);
      if (file) return file;
      const target = this.links.get(current);
      if (target === undefined) return undefined;
      current = target;
    }
    return undefined;
  }

  /** Reads and parses a small JSON member (≤ 8 MiB). */
  async json(name: string): Promise<unknown> {
    const file = this.get(name);
    if (!file) throw new InvalidDataError(`${this.label}: ${name} is missing from the archive`);
    if (file.size > 8 * 2 ** 20) throw new InvalidDataError(`${this.label}: ${name} is too large for a JSON document`);
    try {
      return JSON.parse(await readFile(file.path, 'utf8'));
    } catch (err) {
      throw new InvalidDataError(`${this.label}: ${name} is not valid JSON (${(err as Error).message})`);
    }
  }
}

/** `a/./b/` → `a/b`; null for absolute names or names with `..`. */
export function normalizeName(name: string): string | null {
  if (name.startsWith('/')) return null;
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) return null;
  return parts.join('/');
}

/**
 * Reads the whole tar `input` into `dir`. Throws InvalidDataError on a broken archive, and on
 * a member bigger than the free space of `dir` before reading it (a header claiming 10^15 bytes).
 */
export async function spoolTar(input: Readable, dir: string, label: string): Promise<Spool> {
  const spool = new Spool(dir, label);
  const fs = await statfs(dir);
  let room = fs.bavail * fs.bsize;
  const extract = tar.extract();
  input.on('error', (err) => extract.destroy(err));
  input.pipe(extract);
  let n = 0;
  try {
    for await (const entry of extract) {
      const { header } = entry;
      const name = normalizeName(header.name);
      if (name === null) throw new InvalidDataError(`${label}: entry "${header.name}" escapes the archive`);
      if (header.type === 'file' || header.type === 'contiguous-file') {
        const size = header.size ?? 0;
        if (size > room) throw new InvalidDataError(`${label}: entry "${header.name}" claims ${formatSize(size)}, more than the ${formatSize(room)} free in ${dir}`);
        room -= size;
        spool.files.set(name, await writeMember(entry, `${dir}/${n++}`));
        continue;
      }
      if (header.type === 'symlink' && header.linkname) {
        const target = normalizeName(posix.join(posix.dirname(name), header.linkname));
        if (target !== null) spool.links.set(name, target);
      }
      entry.resume();
    }
  } catch (err) {
    input.unpipe(extract);
    input.destroy();
    if (err instanceof InvalidDataError) throw err;
    throw new InvalidDataError(`${label}: broken tar archive (${(err as Error).message})`, { cause: err });
  }
  return spool;
}

async function writeMember(entry: AsyncIterable<unknown>, path: string): Promise<SpooledFile> {
  const hash = createHash('sha256');
  let size = 0;
  const fh = await open(path, 'wx', 0o600);
  try {
    for await (const raw of entry) {
      const chunk = bytes(raw);
      hash.update(chunk);
      size += chunk.length;
      await fh.write(chunk);
    }
  } finally {
    await fh.close();
  }
  return { path, size, digest: `sha256:${hash.digest('hex')}` };
}

/** A stream chunk as bytes (tar-stream yields Buffers). */
export function bytes(chunk: unknown): Uint8Array {
  if (!(chunk instanceof Uint8Array)) throw new Error('Assertion failed: tar entry chunks are bytes');
  return chunk;
}
