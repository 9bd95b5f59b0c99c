/**
 * The step `import` and `pull` share: convert an image plan's layers into the store (bounded
 * concurrency; a layer whose disk exists is reused), write the record, and on any failure
 * delete the disks this call created unless a record uses them by then.
 */
import { ConflictError } from '@cocoon/common/errors';
import { rollbackLayers } from '@cocoon/common/images/prune';
import type { Layout } from '@cocoon/common/layout';
import type { ImageRecord } from '@cocoon/common/schemas/image';
import type { Progress } from '../progress/index.ts';
import type { ImagePlan, LayerPlan } from './archive.ts';
import { buildRecord, commitRecord } from './commit.ts';
import { convertLayer, type LayerResult } from './layer.ts';
import { mapLimit } from '@cocoon/common/map-limit';

export interface StoreOptions {
  /** Record name and source. */
  name: string;
  source: string;
  /** Replace a record of the same name (else a ConflictError). */
  replace: boolean;
  /** Private scratch folder under `layout.tmp`. */
  work: string;
  progress: Progress;
  /**
   * How a layer gets into the store (default: `convertLayer` from its blob file, reported as
   * `convert`). `pull` downloads and extracts in one go here. The signal aborts on a failure.
   */
  convert?: (layer: LayerPlan, signal: AbortSignal) => Promise<LayerResult>;
  /** Layers handled at once (default 2). */
  concurrency?: number;
}

/** Layers converted at once: extraction and mkfs.erofs each keep a core busy (the machine has 2). */
const CONCURRENCY = 2;

/** Converts `plan`'s layers and commits the record; nothing this call made survives a failure. */
export async function storeLayers(layout: Layout, plan: ImagePlan, opts: StoreOptions): Promise<ImageRecord> {
  const created = new Set<string>();
  const convert = opts.convert ?? (async (layer: LayerPlan) => {
    const task = opts.progress.begin(opts.name, layer.digest, 'convert', null);
    const r = await convertLayer(layout, layer, opts.work);
    task.done(!r.converted);
    return r;
  });
  try {
    for (let attempt = 0; ; attempt++) {
      // A layer listed twice is handled once (two at once would share a staging folder).
      const pending = new Map<string, Promise<LayerResult>>();
      const layers = await mapLimit(plan.layers, opts.concurrency ?? CONCURRENCY, async (layer, signal) => {
        let p = pending.get(layer.digest);
        if (!p) pending.set(layer.digest, (p = convert(layer, signal).then((r) => remember(r, created))));
        return p;
      });
      const record = buildRecord({ name: opts.name, source: opts.source }, plan, layers);
      // A concurrent rm/rollback may delete a shared disk between conversion and commit:
      // commitRecord reports that and the missing disks are converted again.
      if (await commitRecord(layout, record, opts.replace)) return record;
      if (attempt >= 2) throw new ConflictError(`image "${opts.name}": layers keep disappearing from the store (a concurrent image rm?); try again`);
    }
  } catch (err) {
    if (created.size > 0) await rollbackLayers(layout, created);
    throw err;
  }
}

function remember(r: LayerResult, created: Set<string>): LayerResult {
  if (r.converted) created.add(r.digest);
  return r;
}
