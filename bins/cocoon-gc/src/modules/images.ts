/**
 * Images: store files (`images/blobs/sha256/<hex>.erofs|.qcow2`) and boot folders
 * (`images/boot/<hex>/`) that no image record, VM disk or snapshot uses. A file newer than
 * the oldest import or pull still running is left alone: it may be that import's work,
 * renamed into the store before its record is written.
 */
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { imageIndex, layerDigests } from '@cocoon/common/images/store';
import { digestHex } from '@cocoon/common/schemas/common';
import type { ImageRecord } from '@cocoon/common/schemas/image';
import { diskBytes, names, type GcAction, type GcModule } from '../module.ts';

interface StoreEntry {
  path: string;
  hex: string;
  kind: 'blob' | 'boot-dir';
  mtimeMs: number;
}

interface ImagesState {
  records: ImageRecord[];
  entries: StoreEntry[];
}

const BLOB = /^([0-9a-f]{64})\.(erofs|qcow2)$/;
const BOOT = /^[0-9a-f]{64}$/;

async function entries(dir: string, pattern: RegExp, kind: StoreEntry['kind']): Promise<StoreEntry[]> {
  const out: StoreEntry[] = [];
  for (const name of await names(dir)) {
    const m = pattern.exec(name);
    if (!m) continue; // not a name the store makes: not ours to judge
    const path = join(dir, name);
    const st = await stat(path).catch(() => null);
    if (st) out.push({ path, hex: name.slice(0, 64), kind, mtimeMs: st.mtimeMs });
  }
  return out;
}

export const imagesModule: GcModule<ImagesState> = {
  name: 'images',
  lockFile: (layout) => layout.images.lock,
  async read({ layout }) {
    const records = await imageIndex(layout).list();
    const found = [...(await entries(layout.images.blobs, BLOB, 'blob')), ...(await entries(layout.images.boot, BOOT, 'boot-dir'))];
    return { records, entries: found };
  },
  holds: (state) => ({ blobs: new Set(state.records.flatMap((r) => layerDigests(r).map(digestHex))) }),
  async plan(state, holds) {
    const actions: GcAction[] = [];
    for (const e of state.entries) {
      if (holds.blobs.has(e.hex) || holds.paths.has(e.path) || e.mtimeMs >= holds.inFlightSince) continue;
      actions.push({
        module: 'images',
        kind: e.kind,
        target: e.path,
        bytes: await diskBytes(e.path),
        reason: e.kind === 'blob' ? 'no image, VM or snapshot uses this layer' : 'no image uses the layer these boot files came from',
        collect: () => rm(e.path, { recursive: true, force: true }),
      });
    }
    return actions;
  },
};
