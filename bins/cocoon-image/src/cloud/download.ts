/**
 * Getting a cloud image's bytes: an http(s) URL or a local file, streamed into a temp file
 * under `layout.tmp` while hashing, with a size cap and a timeout. The caller owns the file.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Agent, interceptors, request, type Dispatcher } from 'undici';
import { CocoonError, errnoCode, ExternalError, InvalidDataError, NotFoundError, TimeoutError } from '@cocoon/common/errors';
import { formatSize } from '@cocoon/common/units';
import { NO_PROGRESS, type Progress } from '../progress/index.ts';

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

/** Whether `source` names a URL rather than a file. */
export function isUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

/** Streams `source` into a new temp file in `tmpDir`; removes it on any failure. */
export async function acquire(source: string, tmpDir: string, opts: AcquireOptions & { image: string }): Promise<Acquired> {
  await mkdir(tmpDir, { recursive: true, mode: 0o700 });
  const path = join(tmpDir, `cloud-${process.pid}-${randomBytes(4).toString('hex')}`);
  const signal = AbortSignal.timeout(opts.timeoutMs);
  const dispatcher = new Agent({ headersTimeout: opts.timeoutMs, bodyTimeout: opts.timeoutMs }).compose(interceptors.redirect({ maxRedirections: 5 }));
  try {
    const { input, length } = opts.input ? { input: opts.input, length: null } : isUrl(source) ? await openUrl(source, dispatcher, signal, opts.maxBytes) : await openFile(source, opts.maxBytes);
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
    await dispatcher.close();
  }
}

/** A source stream and its length, when the server or the file system says. */
interface Opened {
  input: Readable;
  length: number | null;
}

async function openUrl(url: string, dispatcher: Dispatcher, signal: AbortSignal, maxBytes: number): Promise<Opened> {
  let res;
  try {
    res = await request(url, { dispatcher, signal, headers: { 'user-agent': 'cocoon-image/0.1' } });
  } catch (err) {
    if (signal.aborted) throw new TimeoutError(`${url}: no answer within the timeout (raise it with --timeout)`);
    throw new ExternalError(`cannot download ${url}: ${(err as Error).message}`, { cause: err });
  }
  if (res.statusCode !== 200) {
    await res.body.dump();
    if (res.statusCode === 404) throw new NotFoundError(`${url}: not found (404)`);
    throw new ExternalError(`${url}: server answered ${res.statusCode}`);
  }
  const length = Number(res.headers['content-length'] ?? NaN);
  if (Number.isFinite(length) && length > maxBytes) {
    await res.body.dump();
    throw new InvalidDataError(`${url} is ${formatSize(length)}, more than the size cap of ${formatSize(maxBytes)} (raise it with --max-size)`);
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
