/**
 * Getting a cloud image's bytes: an http(s) URL or a local file, streamed into a temp file
 * under `layout.tmp` while hashing, with a size cap and a timeout. The caller owns the file.
 * Messages name the source by its label (a URL never shows its credentials).
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CocoonError, errnoCode, ExternalError, InvalidDataError, NotFoundError, TimeoutError } from '@cocoon/common/errors';
import { tempPath } from '@cocoon/common/store/temp';
import { formatSize } from '@cocoon/common/units';
import { HttpClient } from '@cocoon/common/http/client';
import { NO_PROGRESS, type Progress } from '../progress/index.ts';
import type { CloudSource } from './source.ts';

export interface Acquired {
  path: string;
  /** `sha256:<hex>` of the bytes as received. */
  digest: string;
  size: number;
}

export interface AcquireOptions {
  maxBytes: number;
  timeoutMs: number;
  /** Where the download is reported, under `image` (default: nowhere). */
  progress?: Progress;
  /** Bytes to read instead of opening the source (`import` from files or stdin). */
  input?: Readable;
}

/** Streams `from` into a new temp file in `tmpDir`; removes it on any failure. */
export async function acquire(from: CloudSource, tmpDir: string, opts: AcquireOptions & { image: string }): Promise<Acquired> {
  const path = tempPath(tmpDir, 'cloud');
  const signal = AbortSignal.timeout(opts.timeoutMs);
  const client = new HttpClient();
  const source = from.label;
  try {
    const { input, length } = opts.input ? { input: opts.input, length: null } : from.url ? await openUrl(from, client, signal, opts) : await openFile(source, opts.maxBytes);
    const task = (opts.progress ?? NO_PROGRESS).begin(opts.image, source, 'download', length);
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > opts.maxBytes) return done(new InvalidDataError(`${source} is larger than the size cap of ${formatSize(opts.maxBytes)} (raise it with --max-size)`));
        hash.update(chunk);
        task.add(chunk.length);
        done(null, chunk);
      },
    });
    await pipeline(input, meter, createWriteStream(path, { flags: 'wx', mode: 0o600 }), { signal }).catch((err: unknown) => {
      if (err instanceof CocoonError) throw err;
      if (signal.aborted) throw new TimeoutError(`${source}: download did not finish within ${Math.round(opts.timeoutMs / 1000)} s (raise it with --timeout)`);
      throw new ExternalError(`${source}: download broke off after ${size} bytes (${(err as Error).message})`, { cause: err });
    });
    task.done();
    return { path, digest: `sha256:${hash.digest('hex')}`, size };
  } catch (err) {
    await rm(path, { force: true });
    throw err;
  } finally {
    client.close();
  }
}

/** A source stream and its length, when the server or the file system says. */
interface Opened {
  input: Readable;
  length: number | null;
}

async function openUrl(from: CloudSource, client: HttpClient, signal: AbortSignal, opts: AcquireOptions): Promise<Opened> {
  const url = from.label;
  let res;
  try {
    const headers = { 'user-agent': 'cocoon-image/0.1', ...(from.authorization ? { authorization: from.authorization } : {}) };
    res = await client.get(from.url as URL, { headers, signal, idleTimeoutMs: opts.timeoutMs });
  } catch (err) {
    if (signal.aborted) throw new TimeoutError(`${url}: no answer within the timeout (raise it with --timeout)`);
    throw new ExternalError(`cannot download ${url}: ${(err as Error).message}`, { cause: err });
  }
  if (res.statusCode !== 200) {
    await res.body.dump();
    if (res.statusCode === 404) throw new NotFoundError(`${url}: not found (404)`);
    if (res.statusCode === 401 || res.statusCode === 403) throw new ExternalError(`${url}: access denied (${res.statusCode}); give credentials in the URL (http://user:password@host/…)`);
    throw new ExternalError(`${url}: server answered ${res.statusCode}`);
  }
  const length = Number(res.headers['content-length'] ?? NaN);
  if (Number.isFinite(length) && length > opts.maxBytes) {
    res.body.destroy();
    throw new InvalidDataError(`${url} is ${formatSize(length)}, more than the size cap of ${formatSize(opts.maxBytes)} (raise it with --max-size)`);
  }
  return { input: res.body, length: Number.isFinite(length) ? length : null };
}

async function openFile(file: string, maxBytes: number): Promise<Opened> {
  let size: number;
  try {
    const st = await stat(file);
    size = st.size;
    if (!st.isFile()) throw new InvalidDataError(`${file} is not a regular file`);
    if (st.size > maxBytes) throw new InvalidDataError(`${file} is ${formatSize(st.size)}, more than the size cap of ${formatSize(maxBytes)} (raise it with --max-size)`);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw new NotFoundError(`${file}: no such file`);
    throw err;
  }
  return { input: createReadStream(file), length: size };
}
