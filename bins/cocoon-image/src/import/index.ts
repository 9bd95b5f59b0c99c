/**
 * `importImage`: an OCI image layout or docker-save tarball (files, split parts or stdin,
 * gzip-wrapped or not) → EROFS layer disks and boot files in the store → an image record.
 * A qcow2 or raw disk (same sources) goes the cloud-image way: one read-only qcow2 v3 disk.
 *
 * Nothing is half-made: staging lives in `<tmp>/import-<pid>.<start>-*` and is removed on every path
 * (on SIGINT/SIGTERM too, and by the next command after a SIGKILL: `store/temp.ts`);
 * disks this import created are deleted again on failure unless another record uses them
 * (`storeLayers`). The images lock is held only to write the record (and to roll back).
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { ConflictError, InvalidDataError } from '@cocoon/common/errors';
import { imageIndex, validateImageName } from '@cocoon/common/images/store';
import type { Layout } from '@cocoon/common/layout';
import { makeTempDir } from '@cocoon/common/store/temp';
import type { Config } from '@cocoon/common/schemas/config';
import type { ImageRecord } from '@cocoon/common/schemas/image';
import type { DiskFormat } from '../cloud/check.ts';
import { importCloudImage } from '../cloud/import.ts';
import { NO_PROGRESS, type Progress } from '../progress/index.ts';
import { planImage } from './archive.ts';
import { detectFormat, detectWrapper, SNIFF_BYTES } from './detect.ts';
import { checkSources, openSources, peek } from './source.ts';
import { spoolTar } from './spool.ts';
import { storeLayers } from './store-layers.ts';

export interface ImportOptions {
  name: string;
  /** File paths (concatenated in order) or `["-"]` for stdin. */
  sources: string[];
  /** Replace an image of the same name. */
  force?: boolean;
  /** What to record as the source (default: the sources joined with a space). */
  source?: string;
  /** Stream read for `-` (default: process.stdin). */
  stdin?: NodeJS.ReadableStream;
  /** Where layer conversions are reported (default: nowhere). */
  progress?: Progress;
  /** `--disk-format`: a disk image's format when it cannot be recognised (default auto). */
  diskFormat?: DiskFormat;
}

const IMAGE = 'an image (an OCI layout or docker-save tarball, or a qcow2 or raw disk)';

/** Imports an image archive or disk image under `opts.name` and returns its record. */
export async function importImage(ctx: { config: Config; layout: Layout }, opts: ImportOptions): Promise<ImageRecord> {
  const { layout } = ctx;
  validateImageName(opts.name);
  await checkSources(opts.sources);
  if (!opts.force && (await imageIndex(layout).list()).some((r) => r.name === opts.name)) {
    throw new ConflictError(`image "${opts.name}" already exists (use --force to replace it)`);
  }
  const label = opts.sources.join(' + ');
  const source = opts.source ?? opts.sources.join(' ');
  const progress = opts.progress ?? NO_PROGRESS;
  const { head, stream } = await unwrap(openSources(opts.sources, opts.stdin ?? process.stdin), label);
  if (detectFormat(head) !== 'tar' || (opts.diskFormat ?? 'auto') !== 'auto') {
    // Not an archive: a disk image (qcow2 by magic, raw once qemu-img agrees) or refused with
    // what it is (HTML, zip, xz, zstd…) by the cloud-image checks.
    return importCloudImage(layout, { source, name: opts.name, force: opts.force, expected: IMAGE, diskFormat: opts.diskFormat, input: stream, maxBytes: Number.MAX_SAFE_INTEGER, timeoutMs: DISK_TIMEOUT_MS, progress });
  }
  const work = await makeTempDir(layout.tmp, 'import');
  try {
    await mkdir(join(work, 'spool'), { mode: 0o700 });
    const plan = await planImage(await spoolTar(stream, join(work, 'spool'), label));
    return await storeLayers(layout, plan, { name: opts.name, source, replace: opts.force ?? false, work, progress });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** A disk image read from files or stdin has no network to wait on; this only stops a stuck pipe. */
const DISK_TIMEOUT_MS = 24 * 3600_000;

/** Peels gzip; returns the first bytes of what is inside and the whole stream again. */
async function unwrap(input: Readable, label: string): Promise<{ head: Buffer; stream: Readable }> {
  let { head, stream } = await peek(input, SNIFF_BYTES);
  if (head.length === 0) throw new InvalidDataError(`${label} is empty (0 bytes), not ${IMAGE}`);
  if (detectWrapper(head) === 'gzip') {
    const gunzip = createGunzip();
    stream.on('error', (err) => gunzip.destroy(err));
    ({ head, stream } = await peek(stream.pipe(gunzip), SNIFF_BYTES).catch((err: Error) => {
      throw new InvalidDataError(`${label}: broken gzip stream (${err.message})`);
    }));
  }
  return { head, stream };
}
