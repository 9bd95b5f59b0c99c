/**
 * `pullImage`: registry → verified layer blobs → the import pipeline's `storeLayers`
 * (EROFS disks + boot files + record, rolled back on failure) → an image record named by
 * the canonical reference.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Layout } from '@cocoon/common/layout';
import type { Config } from '@cocoon/common/schemas/config';
import type { ImageRecord } from '@cocoon/common/schemas/image';
import { runConfig, type ImagePlan } from '../import/archive.ts';
import { storeLayers } from '../import/store-layers.ts';
import { NO_PROGRESS } from '../progress/index.ts';
import { discardBlobs, fetchImage, type FetchedImage, type FetchOptions } from './fetch.ts';

/** What a pull did, besides the record: for progress output and the benchmark. */
export interface PullResult {
  record: ImageRecord;
  downloadedBytes: number;
  layersDownloaded: number;
}

/** Pulls `opts.reference` into the store. A record of the same name is replaced. */
export async function pullImage(ctx: { config: Config; layout: Layout }, opts: FetchOptions): Promise<PullResult> {
  const { layout } = ctx;
  const fetched = await fetchImage(layout, opts);
  try {
    await mkdir(layout.tmp, { recursive: true, mode: 0o700 });
    const work = await mkdtemp(join(layout.tmp, `pull-${process.pid}-`));
    try {
      // NOTE: pull replaces an older record of the same name, like `docker pull` moves a tag.
      const store = { name: fetched.name, source: fetched.name, replace: true, work, progress: opts.progress ?? NO_PROGRESS };
      const record = await storeLayers(layout, toPlan(fetched), store);
      return { record, downloadedBytes: fetched.downloadedBytes, layersDownloaded: fetched.layers.filter((l) => l.blobPath).length };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  } finally {
    await discardBlobs(fetched.layers.map((l) => l.blobPath));
  }
}

/** The import pipeline's plan for a fetched image. Layers without a blob are already in the store. */
function toPlan(f: FetchedImage): ImagePlan {
  return {
    format: 'oci-layout',
    digest: f.manifestDigest,
    platform: f.platform,
    config: runConfig(f.config),
    layers: f.layers.map((l) => ({
      // NOTE: convertLayer reads `file` only when the layer's disk is missing, which is exactly when a blob was fetched.
      file: { path: l.blobPath ?? '/nonexistent', size: l.descriptor.size, digest: l.descriptor.digest },
      digest: l.descriptor.digest,
      diff_id: l.diffId,
      media_type: l.descriptor.mediaType ?? 'application/vnd.oci.image.layer.v1.tar',
    })),
  };
}
