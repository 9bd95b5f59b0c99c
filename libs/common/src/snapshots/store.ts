/**
 * The snapshot store: `<root>/snapshots/index.json` (records in the Go cocoon's flat shape)
 * and one directory per snapshot, `<root>/snapshots/<id>/`, holding its files flat.
 * Shared by cocoon-snap (save, export, import, rm) and the front end (clone, restore).
 */
import { join } from 'node:path';
import { ConflictError, NotFoundError } from '../errors.ts';
import type { Layout } from '../layout.ts';
import { resolveRef } from '../refs.ts';
import { SnapshotRecordSchema, type SnapshotRecord } from '../schemas/snapshot.ts';
import { JsonIndex } from '../store/json-index.ts';

/** The snapshot index of `layout`. */
export function snapshotIndex(layout: Layout): JsonIndex<SnapshotRecord> {
  return new JsonIndex<SnapshotRecord>({ file: layout.snapshots.index, lockFile: layout.snapshots.lock, schema: SnapshotRecordSchema, kind: 'snapshot' });
}

/** The directory holding snapshot `id`'s files. */
export function snapshotDir(layout: Layout, id: string): string {
  return join(layout.snapshots.dir, id);
}

/** Where an import or pull stages snapshot `id`'s files (beside the store: the final move is a rename). */
export function stagingDir(layout: Layout, id: string): string {
  return join(layout.snapshots.dir, `.import-${id}`);
}

/** Complete snapshots only: a pending one (being saved or imported) is invisible. */
export function visible(records: Iterable<SnapshotRecord>): SnapshotRecord[] {
  return [...records].filter((s) => !s.pending);
}

/** Resolves a snapshot by ID, name or unique ID prefix; a miss is "snapshot not found: REF". */
export async function findSnapshot(layout: Layout, ref: string): Promise<SnapshotRecord> {
  return resolveRef(visible(await snapshotIndex(layout).list()), ref, 'snapshot');
}

/** Throws the Go cocoon's words when `name` is taken (pending ones included: they will complete). */
export function assertNameFree(items: Map<string, SnapshotRecord>, name: string, except?: string): void {
  for (const s of items.values()) {
    if (s.name === name && s.id !== except) throw new ConflictError(`snapshot name "${name}" already exists (${s.id.slice(0, 12)})`);
  }
}

/** A record by ID under the index lock, or NotFoundError. */
export function requireSnapshot(items: Map<string, SnapshotRecord>, id: string): SnapshotRecord {
  const s = items.get(id);
  if (!s) throw new NotFoundError(`snapshot not found: ${id}`);
  return s;
}
