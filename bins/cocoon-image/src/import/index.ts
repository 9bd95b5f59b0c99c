/**
 * `importImage`: an OCI image layout or docker-save tarball (files, split parts or stdin,
 * gzip-wrapped or not) → EROFS layer disks and boot files in the store → an image record.
 *
 * Nothing is half-made: staging lives in `<tmp>/import-<pid>-*` and is removed on every path;
 * disks this import created are deleted again on failure unless another record uses them. The
 * images lock is held only to write the record (and to roll back), never across conversion.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { ConflictError, InvalidDataError } from '@cocoon/common/errors';
import { imageIndex, validateImageName } from '@cocoon/common/images/store';
import { pruneLayers } from '@cocoon/common/images/prune';
import type { Layout } from '@cocoon/common/layout';
import type { Config } from '@cocoon/common/schemas/config';
import type { ImageRecord } from '@cocoon/common/schemas/image';
import { planImage, type ImagePlan } from './archive.ts';
import { commitRecord, buildRecord } from './commit.ts';
import { detectFormat, detectWrapper, SNIFF_BYTES } from './detect.ts';
import { convertLayer, type LayerResult } from './layer.ts';
import { checkSources, openSources, peek } from './source.ts';
import { spoolTar } from './spool.ts';

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
  /** Receives one short line per layer (default: stderr when it is a terminal). */
  progress?: (line: string) => void;
}

/** Layers converted at once: mkfs.erofs and extraction each keep a core busy. */
const CONCURRENCY = 2;
const NOT_IMAGE = 'is not an image (expected an OCI layout or docker-save tarball)';

/** Imports an image archive under `opts.name` and returns its record. */
export async function importImage(ctx: { config: Config; layout: Layout }, opts: ImportOptions): Promise<ImageRecord> {
  const { layout } = ctx;
  validateImageName(opts.name);
  await checkSources(opts.sources);
  const index = imageIndex(layout);
  if (!opts.force && (await index.list()).some((r) => r.name === opts.name)) {
    throw new ConflictError(`image "${opts.name}" already exists (use --force to replace it)`);
  }
  const progress = opts.progress ?? (process.stderr.isTTY ? (l: string) => process.stderr.write(`${l}\n`) : () => {});
  const label = opts.sources.join(' + ');
  await mkdir(layout.tmp, { recursive: true, mode: 0o700 });
  const work = await mkdtemp(join(layout.tmp, `import-${process.pid}-`));
  const created = new Set<string>();
  try {
    const input = await unwrap(openSources(opts.sources, opts.stdin ?? process.stdin), label);
    await mkdir(join(work, 'spool'), { mode: 0o700 });
    const plan = await planImage(await spoolTar(input, join(work, 'spool'), label));
    for (let attempt = 0; ; attempt++) {
      const layers = await convertAll(layout, plan, work, created, progress);
      const record = buildRecord(opts, plan, layers);
      // A concurrent rm/rollback may delete a shared disk between conversion and commit:
      // commitRecord reports that and the missing disks are converted again.
      if (await commitRecord(layout, record, opts.force ?? false)) return record;
      if (attempt >= 2) throw new ConflictError(`image "${opts.name}": layers keep disappearing from the store (a concurrent image rm?); try again`);
    }
  } catch (err) {
    await rollback(layout, created);
    throw err;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Peels gzip, then requires a tar; anything else is not an image. */
async function unwrap(input: Readable, label: string): Promise<Readable> {
  let { head, stream } = await peek(input, SNIFF_BYTES);
  if (head.length === 0) throw new InvalidDataError(`${label} is empty: not an image (expected an OCI layout or docker-save tarball)`);
  if (detectWrapper(head) === 'gzip') {
    const gunzip = createGunzip();
    stream.on('error', (err) => gunzip.destroy(err));
    ({ head, stream } = await peek(stream.pipe(gunzip), SNIFF_BYTES).catch((err: Error) => {
      throw new InvalidDataError(`${label}: broken gzip stream (${err.message})`);
    }));
  }
  if (detectFormat(head) !== 'tar') throw new InvalidDataError(`${label} ${NOT_IMAGE}`);
  return stream;
}

/** Converts every layer with bounded concurrency; waits for all before reporting a failure. */
async function convertAll(layout: Layout, plan: ImagePlan, work: string, created: Set<string>, progress: (l: string) => void): Promise<LayerResult[]> {
  const results: LayerResult[] = new Array(plan.layers.length);
  let next = 0;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < plan.layers.length) {
      const i = next++;
      const layer = plan.layers[i]!;
      try {
        const started = Date.now();
        const r = await convertLayer(layout, layer, work);
        results[i] = r;
        if (r.converted) created.add(r.digest);
        progress(`layer ${i + 1}/${plan.layers.length} ${layer.digest.slice(7, 19)} ${r.converted ? `converted in ${Date.now() - started} ms` : 'already in the store'}`);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, plan.layers.length) }, worker));
  if (failure !== undefined) throw failure;
  return results;
}

/** Deletes the disks this import created, unless a record now uses them. */
async function rollback(layout: Layout, created: Set<string>): Promise<void> {
  if (created.size === 0) return;
  await imageIndex(layout).update(async (items) => {
    await pruneLayers(layout, created, items.values());
  });
}
