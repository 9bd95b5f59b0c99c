/**
 * Blob downloads, verified while they stream: into a consumer (pull extracts the layer straight
 * from the body) or a temp file under `layout.tmp`. Nothing is handed on as good unless the
 * size and SHA-256 match the descriptor; a temp file is removed on any failure. A network
 * error restarts the download once from the beginning.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CocoonError, ExternalError, InvalidDataError } from '../errors.ts';
import type { OciDescriptor } from '../schemas/oci.ts';
import { log } from '../log.ts';
import { tempPath } from '../store/temp.ts';
import { readBody, type RegistryClient } from './client.ts';

/** Bytes received, for progress reports and the "downloaded only what was missing" check. */
export interface DownloadStats {
  bytes: number;
}

/** Downloads a small blob (an image config) into memory and verifies it. */
export async function fetchSmallBlob(client: RegistryClient, desc: OciDescriptor, max: number): Promise<Buffer> {
  if (desc.size > max) throw new InvalidDataError(`blob ${desc.digest}: ${desc.size} bytes is more than the ${max} allowed for a config`);
  const res = await client.get(`blobs/${desc.digest}`, {});
  const body = await readBody(res, max, `blob ${desc.digest}`);
  check(desc, body.length, `sha256:${createHash('sha256').update(body).digest('hex')}`);
  return body;
}

/** Where a blob's bytes are counted while they stream. */
export interface StreamOptions {
  stats: DownloadStats;
  signal?: AbortSignal;
  /** Sees every chunk received (progress), restarts included. */
  onBytes?: (n: number) => void;
}

/**
 * Downloads `desc` into a new file under `tmpDir` and returns its path (the caller owns it).
 */
export async function downloadBlob(client: RegistryClient, desc: OciDescriptor, tmpDir: string, stats: DownloadStats, signal?: AbortSignal, onBytes?: (n: number) => void): Promise<string> {
  let path = '';
  const toFile = async (body: Readable): Promise<void> => {
    // A restart writes a new file: the old one may still be open.
    if (path) await rm(path, { force: true });
    path = tempPath(tmpDir, 'blob');
    await pipeline(body, createWriteStream(path, { flags: 'wx', mode: 0o600 }));
  };
  try {
    await streamBlob(client, desc, toFile, { stats, signal, onBytes });
    return path;
  } catch (err) {
    if (path) await rm(path, { force: true });
    throw err;
  }
}

/**
 * Streams blob `desc` into `consume` while checking its size and SHA-256. Resolves only when
 * `consume` finished AND the bytes verified; a digest mismatch is reported even when `consume`
 * failed first (the rest of the body is then read and thrown away to know). A network error
 * restarts the download once: `consume` is then called again and must start over.
 */
export async function streamBlob(client: RegistryClient, desc: OciDescriptor, consume: (body: Readable) => Promise<void>, o: StreamOptions): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await attemptStream(client, desc, consume, o);
    } catch (err) {
      if (attempt >= 1 || !isNetworkError(err) || o.signal?.aborted) throw wrap(desc, err);
      log().warn({ digest: desc.digest, err: (err as Error).message }, 'blob download failed, restarting once');
    }
  }
}

async function attemptStream(client: RegistryClient, desc: OciDescriptor, consume: (body: Readable) => Promise<void>, o: StreamOptions): Promise<void> {
  const res = await client.get(`blobs/${desc.digest}`, {}, o.signal);
  // Fails before reading a byte when the registry's length disagrees with the manifest's claim
  // (e.g. a manifest claiming 20 GiB for a small blob).
  const length = Number(res.headers['content-length'] ?? NaN);
  if (Number.isFinite(length) && length !== desc.size) {
    await res.body.dump();
    throw new InvalidDataError(`blob ${desc.digest}: the manifest declares ${desc.size} bytes but the registry sends ${length}`);
  }
  // NOTE: object mode hands the body's chunks on as they are; in byte mode every read of
  // the consumer's iterator concatenated (copied) whatever was buffered.
  const feed = new PassThrough({ objectMode: true, highWaterMark: 16 });
  // The consumer's own failure comes back through its promise.
  feed.on('error', () => {});
  let release = (): void => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  const consumed = consume(feed).finally(release);
  const [pumped, done] = await Promise.allSettled([pump(res.body, feed, desc, o, released), consumed]);
  if (pumped.status === 'rejected') throw pumped.reason;
  check(desc, pumped.value.size, pumped.value.digest);
  if (done.status === 'rejected') throw done.reason;
}

/** Copies `body` into `feed`, hashing and counting; once `released`, only hashes. */
async function pump(body: Readable, feed: PassThrough, desc: OciDescriptor, o: StreamOptions, released: Promise<void>): Promise<{ size: number; digest: string }> {
  const hash = createHash('sha256');
  let size = 0;
  let dropped = false;
  void released.then(() => (dropped = true));
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      size += chunk.length;
      o.stats.bytes += chunk.length;
      o.onBytes?.(chunk.length);
      if (size > desc.size) throw new InvalidDataError(`blob ${desc.digest}: the registry sent more than the ${desc.size} bytes the manifest declares`);
      hash.update(chunk);
      if (!dropped && !feed.destroyed && !feed.write(chunk)) await Promise.race([drained(feed), released]);
    }
  } catch (err) {
    feed.destroy(err as Error);
    if (err instanceof CocoonError || o.signal?.aborted) throw err;
    throw new TruncatedError(`blob ${desc.digest}: download broke off after ${size} of ${desc.size} bytes (${(err as Error).message})`, { cause: err });
  }
  feed.end();
  return { size, digest: `sha256:${hash.digest('hex')}` };
}

/** Resolves when `feed` takes writes again or is gone. */
function drained(feed: PassThrough): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      feed.off('drain', done);
      feed.off('close', done);
      resolve();
    };
    feed.on('drain', done);
    feed.on('close', done);
  });
}

function check(desc: OciDescriptor, size: number, digest: string): void {
  if (size !== desc.size) throw new InvalidDataError(`blob ${desc.digest}: truncated: received ${size} of ${desc.size} bytes`);
  if (digest !== desc.digest) throw new InvalidDataError(`blob ${desc.digest}: digest mismatch: the registry sent content with digest ${digest}`);
}

/** A body that ended early: worth one restart. */
class TruncatedError extends ExternalError {}

function isNetworkError(err: unknown): boolean {
  if (err instanceof TruncatedError) return true;
  if (err instanceof CocoonError) return err.message.startsWith('cannot reach registry');
  return false;
}

function wrap(desc: OciDescriptor, err: unknown): unknown {
  if (err instanceof CocoonError || !(err instanceof Error)) return err;
  return new ExternalError(`blob ${desc.digest}: ${err.message}`, { cause: err });
}
