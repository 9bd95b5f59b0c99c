/**
 * Sparse files: where a file's data is (SEEK_DATA/SEEK_HOLE through the native addon; Node
 * has no lseek), a copy that keeps holes (a reflink where the filesystem shares extents,
 * else only the data segments are copied), and the segment digest snapshot files carry.
 */
import { createHash, type Hash } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, open, rm, type FileHandle } from 'node:fs/promises';
import { ExternalError } from '../errors.ts';
import { native } from '../native.ts';

const SEEK_DATA = 3;
const SEEK_HOLE = 4;
const ENXIO = 6;
const EINVAL = 22;
/** Read/write granularity of copies and digests. */
export const CHUNK = 1 << 20;

/** A run of data in a sparse file (everything between runs reads as zeros). */
export interface Segment {
  offset: number;
  length: number;
}

/** The data segments of an open file of `size` bytes, in order (holes left out). */
export function dataSegments(fd: number, size: number): Segment[] {
  const segments: Segment[] = [];
  let pos = 0;
  while (pos < size) {
    const data = native().lseek(fd, pos, SEEK_DATA);
    if (data === -ENXIO) break;
    // A filesystem without SEEK_DATA: the whole file is data.
    if (data === -EINVAL) return size > 0 ? [{ offset: 0, length: size }] : [];
    if (data < 0) throw new ExternalError(`lseek(SEEK_DATA): errno ${-data}`);
    const hole = native().lseek(fd, data, SEEK_HOLE);
    if (hole < 0) throw new ExternalError(`lseek(SEEK_HOLE): errno ${-hole}`);
    const end = Math.min(hole, size);
    if (end > data) segments.push({ offset: data, length: end - data });
    pos = end;
  }
  return segments;
}

/**
 * Incremental segment digest: `sha256` over, per data segment, the line `<offset> <length>\n`
 * then its bytes. Zero-length segments (GNU tar's end marker) are left out.
 */
export class SegmentDigest {
  private readonly hash: Hash = createHash('sha256');

  /** Starts a segment; its bytes follow through `data`. */
  segment(s: Segment): void {
    if (s.length > 0) this.hash.update(`${s.offset} ${s.length}\n`);
  }

  data(chunk: Uint8Array): void {
    this.hash.update(chunk);
  }

  /** `sha256:<hex>`. */
  digest(): string {
    return `sha256:${this.hash.digest('hex')}`;
  }
}

/** Reads `length` bytes at `offset` in chunks, calling `fn` for each (the buffer is reused). */
export async function readRange(fh: FileHandle, s: Segment, fn: (chunk: Buffer) => Promise<void> | void, buf = Buffer.allocUnsafe(CHUNK)): Promise<void> {
  let done = 0;
  while (done < s.length) {
    const want = Math.min(buf.length, s.length - done);
    const { bytesRead } = await fh.read(buf, 0, want, s.offset + done);
    if (bytesRead === 0) throw new ExternalError(`unexpected end of file at ${s.offset + done}`);
    await fn(buf.subarray(0, bytesRead));
    done += bytesRead;
  }
}

/** The apparent size and segment digest of the file at `path`. */
export async function digestFile(path: string): Promise<{ size: number; digest: string }> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const d = new SegmentDigest();
    const buf = Buffer.allocUnsafe(CHUNK);
    for (const s of dataSegments(fh.fd, size)) {
      d.segment(s);
      await readRange(fh, s, (chunk) => d.data(chunk), buf);
    }
    return { size, digest: d.digest() };
  } finally {
    await fh.close();
  }
}

/**
 * Copies `src` to a new file `dst` (0600) keeping holes: a reflink (FICLONE) where the
 * filesystem supports it, else only the data segments. Returns how it copied.
 * NOTE: `dst` must not exist; a failed copy removes what it wrote.
 */
export async function copySparse(src: string, dst: string): Promise<'reflink' | 'sparse'> {
  try {
    // NOTE: FICLONE_FORCE, not FICLONE: libuv's FICLONE fallback is a full copy that fills holes.
    await copyFile(src, dst, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE_FORCE);
    return 'reflink';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw err;
    await rm(dst, { force: true });
  }
  const [input, output] = [await open(src, 'r'), await open(dst, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600)];
  try {
    const { size } = await input.stat();
    const buf = Buffer.allocUnsafe(CHUNK);
    for (const s of dataSegments(input.fd, size)) {
      let at = s.offset;
      await readRange(input, s, async (chunk) => {
        await output.write(chunk, 0, chunk.length, at);
        at += chunk.length;
      }, buf);
    }
    await output.truncate(size);
    await output.sync();
    return 'sparse';
  } catch (err) {
    await output.close().catch(() => undefined);
    await rm(dst, { force: true });
    throw err;
  } finally {
    await input.close();
    await output.close().catch(() => undefined);
  }
}
