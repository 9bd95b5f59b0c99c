/**
 * Cloud images (qcow2 or raw, from a URL or a file) → a read-only qcow2 v3 file in the store,
 * named by its content hash (`images/blobs/sha256/<hex>.qcow2`), and an image record:
 * `kind: "cloud"`, `digest` = SHA-256 of the bytes as downloaded, one layer whose digest is
 * the stored qcow2's SHA-256 (media type `application/vnd.cocoon.disk.qcow2`), no boot files.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { ConflictError, InvalidDataError } from '@cocoon/common/errors';
import { run } from '@cocoon/common/exec';
import { CLOUD_DISK_MEDIA_TYPE, cloudDiskPath, imageIndex, validateImageName } from '@cocoon/common/images/store';
import { rollbackLayers } from '@cocoon/common/images/prune';
import type { Layout } from '@cocoon/common/layout';
import { newId } from '@cocoon/common/refs';
import { ImageRecordSchema, type ImageRecord } from '@cocoon/common/schemas/image';
import type { QemuImgInfo } from '@cocoon/common/schemas/qemu-img';
import { commitRecord } from '../import/commit.ts';
import { NO_PROGRESS } from '../progress/index.ts';
import { checkQcow2, checkRaw, qemuInfo, type DiskFormat } from './check.ts';
import { acquire, type AcquireOptions } from './download.ts';
import { parseSource, type CloudSource } from './source.ts';
import { DISK_IMAGE, sniffCloudImage } from './sniff.ts';

export interface CloudImportOptions extends AcquireOptions {
  source: string;
  /** Record name (default: the file name of the URL or path). */
  name?: string;
  /** Replace a record of the same name. */
  force?: boolean;
  /** What the input should have been, for messages (default: a disk image). */
  expected?: string;
  /** `--disk-format`: raw is accepted without a partition table only when said (default auto). */
  diskFormat?: DiskFormat;
}

/** Downloads, checks, converts when needed, stores and records a cloud image. */
export async function importCloudImage(layout: Layout, opts: CloudImportOptions): Promise<ImageRecord> {
  const from = parseSource(opts.source);
  // NOTE: from here on the source is its label: a URL without its credentials.
  opts = { ...opts, source: from.label };
  const name = opts.name ?? defaultName(from);
  validateImageName(name);
  if (!opts.force && (await imageIndex(layout).list()).some((r) => r.name === name)) {
    throw new ConflictError(`image "${name}" already exists (use --force to replace it)`);
  }
  const got = await acquire(from, layout.tmp, { ...opts, image: name });
  const converted = `${got.path}.qcow2`;
  let stored: string | null = null;
  try {
    const file = await toQcow2(got.path, converted, { ...opts, image: name });
    stored = await hashFile(file);
    const disk = cloudDiskPath(layout, stored);
    await chmod(file, 0o444);
    await mkdir(layout.images.blobs, { recursive: true, mode: 0o700 });
    // NOTE: content-addressed: an existing file with this name has these bytes; rename replaces it atomically.
    await rename(file, disk);
    const size = (await stat(disk)).size;
    const record = ImageRecordSchema.parse({
      id: newId(), name, kind: 'cloud', digest: got.digest, source: opts.source, platform: null,
      layers: [{ digest: stored, diff_id: null, media_type: CLOUD_DISK_MEDIA_TYPE, size }],
      boot: null, config: null, size, created_at: new Date().toISOString(),
    });
    if (!(await commitRecord(layout, record, opts.force ?? false))) {
      throw new ConflictError(`image "${name}": its disk disappeared from the store before the record was written (a concurrent image rm?); try again`);
    }
    return record;
  } catch (err) {
    // NOTE: under the lock no other record can start using the disk while it is removed.
    if (stored !== null) await rollbackLayers(layout, [stored]);
    throw err;
  } finally {
    await rm(got.path, { force: true });
    await rm(converted, { force: true });
  }
}

/** Checks the downloaded file and returns a qcow2 v3 of it: the file itself, or `out` after conversion. */
async function toQcow2(path: string, out: string, opts: CloudImportOptions & { image: string }): Promise<string> {
  const head = await readHead(path);
  const format = opts.diskFormat ?? 'auto';
  const sniffed = format === 'raw' ? 'raw' : sniffCloudImage(head, opts.source, opts.expected);
  if (format === 'qcow2' && sniffed !== 'qcow2') throw new InvalidDataError(`${opts.source} is not a qcow2 image (no qcow2 header), though --disk-format qcow2 says so`);
  const info = await qemuInfo(path, sniffed === 'probe' ? null : sniffed, opts.source);
  if (info.format === 'raw') checkRaw(head, (await stat(path)).size, opts.source, opts.expected ?? DISK_IMAGE, format);
  if (info.format === 'qcow2') await checkQcow2(path, opts.source);
  if (!needsConversion(info)) return path;
  const task = (opts.progress ?? NO_PROGRESS).begin(opts.image, opts.source, 'convert', null);
  await run('qemu-img', ['convert', '-q', '-f', info.format, '-O', 'qcow2', '-o', 'compat=1.1', path, out], { timeoutMs: opts.timeoutMs });
  task.done();
  return out;
}

function defaultName(from: CloudSource): string {
  return basename(from.url ? from.url.pathname : from.label) || 'cloud-image';
}

/** The first 1,024 bytes: the sniffers' 512, and a GPT header at 512. */
async function readHead(path: string): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(1024);
    const { bytesRead } = await fh.read(buf, 0, 1024, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

function needsConversion(info: QemuImgInfo): boolean {
  return info.format !== 'qcow2' || info['format-specific']?.data?.compat !== '1.1';
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}
