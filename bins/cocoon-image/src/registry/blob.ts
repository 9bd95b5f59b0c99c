/**
 * Blob downloads: streamed to a temp file under `layout.tmp` while hashing. The file is
 * handed back only when its size and SHA-256 match the descriptor; on any failure it is
 * removed. A network error restarts the download once from the beginning.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CocoonError, ExternalError, InvalidDataError } from '@cocoon/common/errors';
import { digestHex } from '@cocoon/common/schemas/common';
import type { OciDescriptor } from '@cocoon/common/schemas/oci';
import { log } from '@cocoon/common/log';
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

/**
 * Downloads `desc` into a new file under `tmpDir` and returns its path (the caller owns it).
 * `onBytes` sees every chunk received (progress), restarts included.
 */
export async function downloadBlob(client: RegistryClient, desc: OciDescriptor, tmpDir: string, stats: DownloadStats, signal?: AbortSignal, onBytes: (n: number) => void = () => {}): Promise<string> {
  await mkdir(tmpDir, { recursive: true, mode: 0o700 });
  for (let attempt = 0; ; attempt++) {
    const path = join(tmpDir, `pull-${digestHex(desc.digest).slice(0, 16)}-${randomBytes(4).toString('hex')}`);
    try {
      await attemptDownload(client, desc, path, stats, signal, onBytes);
      return path;
    } catch (err) {
      await rm(path, { force: true });
      if (attempt >= 1 || !isNetworkError(err) || signal?.aborted) throw wrap(desc, err);
      log().warn({ digest: desc.digest, err: (err as Error).message }, 'blob download failed, restarting once');
    }
  }
}

async function attemptDownload(client: RegistryClient, desc: OciDescriptor, path: string, stats: DownloadStats, signal: AbortSignal | undefined, onBytes: (n: number) => void): Promise<void> {
  const res = await client.get(`blobs/${desc.digest}`, {}, signal);
  // Fails before reading a byte when the registry's length disagrees with the manifest's claim
  // (e.g. a manifest claiming 20 GiB for a small blob).
  const length = Number(res.headers['content-length'] ?? NaN);
  if (Number.isFinite(length) && length !== desc.size) {
    await res.body.dump();
    throw new InvalidDataError(`blob ${desc.digest}: the manifest declares ${desc.size} bytes but the registry sends ${length}`);
  }
  const hash = createHash('sha256');
  let received = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      received += chunk.length;
      stats.bytes += chunk.length;
      onBytes(chunk.length);
      if (received > desc.size) return done(new InvalidDataError(`blob ${desc.digest}: the registry sent more than the ${desc.size} bytes the manifest declares`));
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    await pipeline(res.body, meter, createWriteStream(path, { flags: 'wx', mode: 0o600 }), { signal });
  } catch (err) {
    if (err instanceof CocoonError || signal?.aborted) throw err;
    throw new TruncatedError(`blob ${desc.digest}: download broke off after ${received} of ${desc.size} bytes (${(err as Error).message})`, { cause: err });
  }
  check(desc, received, `sha256:${hash.digest('hex')}`);
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
