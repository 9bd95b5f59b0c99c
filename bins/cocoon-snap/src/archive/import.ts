/**
 * `snapshot import`: reads an export (cocoon's version 2, or the Go cocoon's version 1),
 * gzip'd or not (detected by its magic bytes). Only regular files with plain names are
 * accepted (no `/`, no `..`, no symlinks, hardlinks or devices), each listed once in a
 * version 2 manifest and matching its size and digest; they are written into a staging
 * directory beside the store (O_EXCL, no symlink followed) and renamed into place once all
 * are checked. Memory stays bounded: entries are consumed chunk by chunk.
 */
import { constants } from 'node:fs';
import { open, rename, rm, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { InvalidDataError } from '@cocoon/common/errors';
import { SnapshotArchiveManifestSchema, SnapshotFileSchema, type SnapshotArchiveManifest, type SnapshotFile } from '@cocoon/common/schemas/snapshot';
import { SegmentDigest, type Segment } from '@cocoon/common/snapshots/sparse';
import { entryLayout, SparseMapReader } from './sparse-tar.ts';

export const MANIFEST = 'snapshot.json';
const MAX_MANIFEST = 4 * 2 ** 20;

/** The manifest and the files written into `staging`. */
export interface Extracted {
  manifest: SnapshotArchiveManifest;
  files: SnapshotFile[];
}

/**
 * Writes the file entries of a snapshot archive into `staging`, checking each against the
 * manifest (cocoon's version 2 lists every file with its size and digest).
 */
export class ArchiveWriter {
  private readonly files: SnapshotFile[] = [];

  constructor(private readonly staging: string, private readonly manifest: SnapshotArchiveManifest) {}

  /** One tar entry: a regular file with a plain name, listed once, written and checked. */
  async entry(tarEntry: { header: tar.Header }): Promise<void> {
    const h = tarEntry.header;
    if (h.type !== 'file' && h.type !== 'contiguous-file') throw new InvalidDataError(`archive entry "${h.name}" is a ${h.type}: only regular files are accepted`);
    const layout = entryLayout({ name: h.name, size: h.size, pax: h.pax as Record<string, string> | undefined });
    const name = plainName(layout.name);
    if (name === MANIFEST || this.files.some((f) => f.name === name)) throw new InvalidDataError(`archive entry "${name}" appears twice`);
    const m = this.manifest;
    const listed = m.version === 2 ? m.config.files?.find((f) => f.name === name) : undefined;
    if (m.version === 2 && !listed) throw new InvalidDataError(`archive entry "${name}" is not listed in ${MANIFEST}`);
    // NOTE: a streamx Readable; Node's Readable type covers the async iteration used here.
    const got = await writeEntry(tarEntry as unknown as Readable, join(this.staging, name), layout.size, layout.segments, name);
    if (listed && (listed.size !== got.size || listed.digest !== got.digest)) throw new InvalidDataError(`archive entry "${name}" does not match its size and digest in ${MANIFEST}`);
    this.files.push({ name, ...got });
  }

  /** Every file the manifest lists must have come; returns what was written. */
  finish(): Extracted {
    if (this.manifest.version === 2) {
      const missing = (this.manifest.config.files ?? []).filter((f) => !this.files.some((g) => g.name === f.name));
      if (missing.length) throw new InvalidDataError(`the archive is incomplete: ${missing.map((f) => f.name).join(', ')} missing`);
    }
    return { manifest: this.manifest, files: [...this.files].sort((a, b) => (a.name < b.name ? -1 : 1)) };
  }
}

/** Extracts `input` into `staging` (created here); throws InvalidDataError on anything not allowed. */
export async function extractArchive(input: Readable, staging: string): Promise<Extracted> {
  await mkdir(staging, { mode: 0o700 });
  const extract = tar.extract();
  const source = await maybeGunzip(input);
  source.on('error', (err) => extract.destroy(err));
  source.pipe(extract);
  let writer: ArchiveWriter | null = null;
  try {
    for await (const tarEntry of extract) {
      if (writer) {
        await writer.entry(tarEntry);
        continue;
      }
      const h = tarEntry.header;
      if (h.type !== 'file' || plainName(h.name) !== MANIFEST) throw new InvalidDataError(`the first archive entry must be ${MANIFEST}, got "${h.name}"`);
      writer = new ArchiveWriter(staging, parseManifest(await readAll(tarEntry as unknown as Readable, MAX_MANIFEST)));
    }
  } catch (err) {
    input.unpipe?.();
    extract.destroy();
    throw asInvalid(err);
  }
  if (!writer) throw new InvalidDataError(`the archive is empty (no ${MANIFEST})`);
  return writer.finish();
}

/** Any failure while reading an archive is bad data (a truncated stream, a broken header …). */
export function asInvalid(err: unknown): Error {
  if (err instanceof InvalidDataError) return err;
  return new InvalidDataError(`not a complete snapshot archive: ${(err as Error).message}`);
}

/** A name of the archive as a plain file name, or InvalidDataError (paths, `..`, absolute names). */
export function plainName(name: string): string {
  const plain = name.replace(/^\.\//, '');
  if (!SnapshotFileSchema.shape.name.safeParse(plain).success) throw new InvalidDataError(`archive entry "${name}" is not a plain file name (no directories, "..", or absolute paths)`);
  return plain;
}

/** Parses `snapshot.json` (versions 1 and 2). */
export function parseManifest(bytes: Buffer): SnapshotArchiveManifest {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new InvalidDataError(`${MANIFEST} is not JSON`);
  }
  const version = (json as { version?: unknown } | null)?.version;
  if (version !== 1 && version !== 2) throw new InvalidDataError(`${MANIFEST}: unsupported archive version ${JSON.stringify(version)} (this cocoon reads 1 and 2)`);
  const parsed = SnapshotArchiveManifestSchema.safeParse(json);
  if (!parsed.success) throw new InvalidDataError(`${MANIFEST}: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

async function readAll(entry: Readable, max: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of entry) {
    n += (chunk as Buffer).length;
    if (n > max) throw new InvalidDataError(`${MANIFEST} is larger than ${max} bytes`);
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts);
}

/**
 * Writes one entry's body to `path` (a new file, never through a symlink): a GNU 1.0 map
 * first when `segments` is null, then the data segments at their offsets; digest as it goes.
 */
async function writeEntry(entry: Readable, path: string, size: number, segments: Segment[] | null, label: string): Promise<{ size: number; digest: string }> {
  const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  const digest = new SegmentDigest();
  const mapReader = segments === null ? new SparseMapReader(size, label) : null;
  let plan: Segment[] | null = segments;
  let index = 0;
  let inSegment = 0;
  const feed = async (chunk: Buffer): Promise<void> => {
    while (chunk.length > 0) {
      const seg = plan?.[index];
      if (!seg) throw new InvalidDataError(`archive entry "${label}" has more data than its sparse map`);
      if (inSegment === 0) digest.segment(seg);
      const take = Math.min(chunk.length, seg.length - inSegment);
      const part = chunk.subarray(0, take);
      await fh.write(part, 0, take, seg.offset + inSegment);
      digest.data(part);
      inSegment += take;
      chunk = chunk.subarray(take);
      if (inSegment === seg.length) [index, inSegment] = [index + 1, 0];
    }
  };
  try {
    for await (const raw of entry) {
      let chunk = raw as Buffer;
      if (!plan && mapReader) {
        const read = mapReader.push(chunk);
        if (!read) continue;
        plan = read.segments;
        chunk = read.rest;
      }
      await feed(chunk);
    }
    while (plan && plan[index]?.length === 0) index++;
    if (!plan || index < plan.length) throw new InvalidDataError(`archive entry "${label}" ended before its data did`);
    await fh.truncate(size);
    await fh.sync();
    return { size, digest: digest.digest() };
  } finally {
    await fh.close();
  }
}

/** The input, gunzipped when it starts with gzip's magic bytes. */
async function maybeGunzip(input: Readable): Promise<Readable> {
  const first = await new Promise<Buffer | null>((resolve, reject) => {
    const onReadable = () => {
      const chunk = input.read() as Buffer | null;
      if (chunk === null) return;
      cleanup();
      resolve(chunk);
    };
    const onEnd = () => (cleanup(), resolve(null));
    const onError = (err: Error) => (cleanup(), reject(err));
    const cleanup = () => input.off('readable', onReadable).off('end', onEnd).off('error', onError);
    input.on('readable', onReadable).once('end', onEnd).once('error', onError);
    onReadable();
  });
  if (first === null) throw new InvalidDataError('the archive is empty');
  input.unshift(first);
  if (first[0] !== 0x1f || first[1] !== 0x8b) return input;
  const gunzip = createGunzip();
  input.on('error', (err) => gunzip.destroy(err));
  return input.pipe(gunzip);
}

/** Removes a staging directory (after a failure). */
export async function dropStaging(staging: string): Promise<void> {
  await rm(staging, { recursive: true, force: true });
}

/** Moves a checked staging directory into place. */
export async function commitStaging(staging: string, final: string): Promise<void> {
  await rename(staging, final);
}
