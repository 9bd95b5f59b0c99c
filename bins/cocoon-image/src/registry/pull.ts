/**
 * `pullImage`: registry → verified layer blobs → the import pipeline's conversion (EROFS
 * disks + boot files) → an image record named by the canonical reference. The conversion
 * and the record code are the import's own (`import/layer.ts`, `import/commit.ts`).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ConflictError } from '@cocoon/common/errors';
import { imageIndex } from '@cocoon/common/images/store';
import { pruneLayers } from '@cocoon/common/images/prune';
import type { Layout } from '@cocoon/common/layout';
import type { Config } from '@cocoon/common/schemas/config';
import type { ImageRecord } from '@cocoon/common/schemas/image';
import type { ImagePlan, LayerPlan } from '../import/archive.ts';
import { buildRecord, commitRecord } from '../import/commit.ts';
import { convertLayer, type LayerResult } from '../import/layer.ts';
import { mapLimit } from './blob.ts';
import { discardBlobs, fetchImage, type FetchedImage, type FetchOptions } from './fetch.ts';

/** What a pull did, besides the record: for progress output and the benchmark. */
export interface PullResult {
  record: ImageRecord;
  downloadedBytes: number;
  layersDownloaded: number;
}

/** Layers converted at once (mkfs.erofs keeps a core busy; the machine has 2). */
const CONVERT_CONCURRENCY = 2;

/** Pulls `opts.reference` into the store. A record of the same name is replaced. */
export async function pullImage(ctx: { config: Config; layout: Layout }, opts: FetchOptions): Promise<PullResult> {
  const { layout } = ctx;
  const fetched = await fetchImage(layout, opts);
  await mkdir(layout.tmp, { recursive: true, mode: 0o700 });
  const work = await mkdtemp(join(layout.tmp, `pull-${process.pid}-`));
  const created = new Set<string>();
  try {
    const plan = toPlan(fetched);
    for (let attempt = 0; ; attempt++) {
      const layers = await mapLimit(plan.layers, CONVERT_CONCURRENCY, async (l) => remember(await convertLayer(layout, l, work), created));
      const record = buildRecord({ name: fetched.name, sources: [fetched.name] }, plan, layers);
      // NOTE: pull replaces an older record of the same name, like `docker pull` moves a tag.
      if (await commitRecord(layout, record, true)) {
        return { record, downloadedBytes: fetched.downloadedBytes, layersDownloaded: fetched.layers.filter((l) => l.blobPath).length };
      }
      if (attempt >= 2) throw new ConflictError(`${fetched.name}: layers keep disappearing from the store (a concurrent image rm?); try again`);
    }
  } catch (err) {
    if (created.size > 0) await imageIndex(layout).update((items) => pruneLayers(layout, created, items.values()));
    throw err;
  } finally {
    await discardBlobs(fetched.layers.map((l) => l.blobPath));
    await rm(work, { recursive: true, force: true });
  }
}

function remember(r: LayerResult, created: Set<string>): LayerResult {
  if (r.converted) created.add(r.digest);
  return r;
}

/** The import pipeline's plan for a fetched image. Layers without a blob are already in the store. */
function toPlan(f: FetchedImage): ImagePlan {
  const layers: LayerPlan[] = f.layers.map((l) => ({
    // NOTE: convertLayer reads `file` only when the layer's disk is missing, which is exactly when a blob was fetched.
    file: { path: l.blobPath ?? '/nonexistent', size: l.descriptor.size, digest: l.descriptor.digest },
    digest: l.descriptor.digest,
    diff_id: l.diffId,
    media_type: l.descriptor.mediaType,
  }));
  const c = f.config.config;
  return {
    format: 'oci-layout',
    digest: f.manifestDigest,
    platform: f.platform,
    config: { env: c?.Env ?? [], entrypoint: c?.Entrypoint ?? null, cmd: c?.Cmd ?? null },
    layers,
  };
}
