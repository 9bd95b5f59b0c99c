/**
 * `snapshot export`: a tar stream (tar-stream), optionally gzip'd as a whole: `snapshot.json`
 * first (`{"version":2,"config":<the record, with every file's size and digest>}`), then the
 * snapshot's files sorted by name, sparse ones as GNU sparse 1.0 entries (see sparse-tar.ts).
 * Memory stays bounded: one 1 MiB read at a time, and the next read waits for the consumer.
 */
import { once } from 'node:events';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { InvalidDataError } from '@cocoon/common/errors';
import type { SnapshotRecord } from '@cocoon/common/schemas/snapshot';
import { CHUNK, dataSegments, type Segment } from '@cocoon/common/snapshots/sparse';
import { encodeSparseMap, isDense, sparseHeader } from './sparse-tar.ts';

/** The manifest entry's bytes. */
export function manifestOf(s: SnapshotRecord): Buffer {
  return Buffer.from(`${JSON.stringify({ version: 2, config: s }, null, 2)}\n`);
}

/** Streams snapshot `s` (its files in `dir`) to `out`. */
export async function exportSnapshot(s: SnapshotRecord, dir: string, out: Writable, gzip: boolean): Promise<void> {
  const pack = tar.pack();
  const mtime = new Date(s.created_at);
  const done = gzip ? pipeline(pack, createGzip({ level: 1 }), out) : pipeline(pack, out);
  // NOTE: a consumer that goes away (EPIPE) rejects `done` while a file is being read: handled below.
  done.catch(() => undefined);
  try {
    const manifest = manifestOf(s);
    pack.entry({ name: 'snapshot.json', size: manifest.length, mode: 0o600, mtime }, manifest);
    for (const f of [...(s.files ?? [])].sort((a, b) => (a.name < b.name ? -1 : 1))) await addFile(pack, join(dir, f.name), f.name, f.size, mtime, done);
    pack.finalize();
  } catch (err) {
    pack.destroy(err as Error);
    await done.catch(() => undefined);
    throw err;
  }
  await done;
}

/** One snapshot file as a tar of its own (a registry layer): the same entry an export writes. */
export async function exportFile(path: string, name: string, size: number, mtime: Date, out: Writable): Promise<void> {
  const pack = tar.pack();
  const done = pipeline(pack, out);
  done.catch(() => undefined);
  try {
    await addFile(pack, path, name, size, mtime, done);
    pack.finalize();
  } catch (err) {
    pack.destroy(err as Error);
    throw err;
  }
  await done;
}

async function addFile(pack: tar.Pack, path: string, name: string, expected: number, mtime: Date, done: Promise<void>): Promise<void> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    if (size !== expected) throw new InvalidDataError(`snapshot file ${name} is ${size} bytes, its record says ${expected}: the snapshot is damaged`);
    const segments = dataSegments(fh.fd, size);
    const dataBytes = segments.reduce((n, s) => n + s.length, 0);
    const dense = isDense(segments, size);
    const map = dense ? null : encodeSparseMap(segments, size);
    const header = dense ? { name, size } : sparseHeader(name, size, map?.length ?? 0, dataBytes);
    // NOTE: tar-stream's entry is a streamx Writable; Node's Writable type covers what is used here.
    const entry = pack.entry({ ...header, mode: 0o600, mtime }) as unknown as Writable;
    const finished = once(entry, 'finish');
    if (map) await write(entry, map, done);
    for (const s of dense ? [{ offset: 0, length: size }] : segments) await copySegment(fh, s, entry, done);
    entry.end();
    await Promise.race([finished, done]);
  } finally {
    await fh.close();
  }
}

async function copySegment(fh: Awaited<ReturnType<typeof open>>, s: Segment, entry: Writable, done: Promise<void>): Promise<void> {
  for (let at = 0; at < s.length; ) {
    // NOTE: a fresh buffer per read: tar-stream keeps a reference until the chunk is sent.
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, s.length - at));
    const { bytesRead } = await fh.read(buf, 0, buf.length, s.offset + at);
    if (bytesRead === 0) throw new InvalidDataError(`a snapshot file ended early at ${s.offset + at}`);
    await write(entry, bytesRead === buf.length ? buf : buf.subarray(0, bytesRead), done);
    at += bytesRead;
  }
}

/** Writes with backpressure; a broken output (`done` rejected) ends the wait. */
async function write(stream: Writable, chunk: Buffer, done: Promise<void>): Promise<void> {
  if (!stream.write(chunk)) await Promise.race([once(stream, 'drain'), done]);
}
