/**
 * `pullImage`: registry → layers → the import pipeline's `storeLayers` (EROFS disks + boot
 * files + record, rolled back on failure) → an image record named by the canonical reference.
 *
 * Each missing layer is extracted straight from its HTTP body into a staging folder while the
 * compressed bytes (digest) and the uncompressed stream (diff_id) are hashed; the folder becomes
 * an EROFS disk only once both verify. So there is no blob file to write and read back, and
 * layers download and convert side by side instead of all downloads first.
 */
import { mkdir, rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Layout } from '@cocoon/common/layout';
import { log } from '@cocoon/common/log';
import { makeTempDir } from '@cocoon/common/store/temp';
import type { Config } from '@cocoon/common/schemas/config';
import type { ImageRecord } from '@cocoon/common/schemas/image';
import type { OciDescriptor } from '@cocoon/common/schemas/oci';
import { runConfig, type ImagePlan, type LayerPlan } from '../import/archive.ts';
import { extractTar } from '../import/extract-tar.ts';
import { buildLayer, reuseLayer, type LayerResult } from '../import/layer.ts';
import { orderedLimiter, type Ticket } from '@cocoon/common/map-limit';
import { storeLayers } from '../import/store-layers.ts';
import { NO_PROGRESS, type ProgressTask } from '../progress/index.ts';
import { streamBlob, type DownloadStats } from '@cocoon/common/registry/blob';
import { resolveImage, type FetchOptions, type ResolvedImage } from './fetch.ts';

/** What a pull did, besides the record: for progress output and the benchmark. */
export interface PullResult {
  record: ImageRecord;
  downloadedBytes: number;
  layersDownloaded: number;
}

/**
 * Layers downloading (and extracting) at once; a layer's slot is freed as soon as its
 * extraction is verified, so the next download overlaps its mkfs.erofs.
 */
const CONCURRENCY = 3;

/** Pulls `opts.reference` into the store. A record of the same name is replaced. */
export async function pullImage(ctx: { config: Config; layout: Layout }, opts: FetchOptions): Promise<PullResult> {
  const { layout } = ctx;
  const image = await resolveImage(layout, opts);
  try {
    const work = await makeTempDir(layout.tmp, 'pull');
    try {
      const counts = { bytes: 0, layers: 0 };
      const convert = streamingConverter(layout, image, work, counts, opts);
      // NOTE: pull replaces an older record of the same name, like `docker pull` moves a tag.
      // Every layer may be in mkfs.erofs at once; `convert` bounds the downloads.
      const store = { name: image.name, source: image.name, replace: true, work, progress: opts.progress ?? NO_PROGRESS, convert, concurrency: image.layers.length };
      const record = await storeLayers(layout, toPlan(image), store);
      log().info({ image: image.name, digest: image.manifestDigest, layers: image.layers.length, downloaded: counts.layers, bytes: counts.bytes }, 'image pulled');
      return { record, downloadedBytes: counts.bytes, layersDownloaded: counts.layers };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  } finally {
    await image.client.close();
  }
}

/** `storeLayers`' converter for a pull: reuse the store's disk, else download-and-extract. */
function streamingConverter(layout: Layout, image: ResolvedImage, work: string, counts: DownloadStats & { layers: number }, opts: FetchOptions) {
  const progress = opts.progress ?? NO_PROGRESS;
  const descriptors = new Map(image.layers.map((l) => [l.descriptor.digest, l.descriptor]));
  const downloads = orderedLimiter(opts.concurrency ?? CONCURRENCY);
  return async (layer: LayerPlan, signal: AbortSignal): Promise<LayerResult> => {
    // NOTE: the download turn is taken before any await, so layers download in manifest order.
    const turn = downloads.ticket();
    try {
      return await convertLayer(layer, signal, turn);
    } finally {
      turn.release();
    }
  };

  async function convertLayer(layer: LayerPlan, signal: AbortSignal, turn: Ticket): Promise<LayerResult> {
    const desc = descriptors.get(layer.digest) as OciDescriptor;
    // NOTE: checked again here, not only when resolving: a concurrent pull may have stored it since.
    const had = await reuseLayer(layout, layer.digest);
    if (had && !opts.force) {
      progress.cached(image.name, layer.digest, 'download', desc.size);
      progress.cached(image.name, layer.digest, 'convert', null);
      return had;
    }
    const tasks: { convert?: ProgressTask } = {};
    const r = await buildLayer(layout, layer.digest, work, async (root) => {
      let attempt = 0;
      const extract = async (body: Readable): Promise<void> => {
        // A restart (after a network error) begins again in an empty folder.
        if (attempt++ > 0) await emptyDir(root);
        await extractTar(body, layer, root);
      };
      await turn.run(async () => {
        const task = progress.begin(image.name, layer.digest, 'download', desc.size);
        await streamBlob(image.client, desc, extract, { stats: counts, signal, onBytes: (n) => task.add(n) });
        task.done();
      });
      counts.layers++;
      tasks.convert = progress.begin(image.name, layer.digest, 'convert', null);
    });
    tasks.convert?.done();
    // With --force the store had it already: not this pull's to roll back.
    return had ? { ...r, converted: false } : r;
  }
}

async function emptyDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { mode: 0o700 });
}

/** The import pipeline's plan for a resolved image (layers are read by the converter, not from files). */
function toPlan(image: ResolvedImage): ImagePlan {
  return {
    format: 'oci-layout',
    digest: image.manifestDigest,
    platform: image.platform,
    config: runConfig(image.config),
    layers: image.layers.map((l) => ({
      file: { path: '', size: l.descriptor.size, digest: l.descriptor.digest },
      digest: l.descriptor.digest,
      diff_id: l.diffId,
      media_type: l.descriptor.mediaType ?? 'application/vnd.oci.image.layer.v1.tar',
    })),
  };
}
