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
import { selfIdentity } from '../proc.ts';
import { JsonIndex } from '../store/json-index.ts';
import { ownerTag } from '../store/temp.ts';

/** The snapshot index of `layout`. */
export function snapshotIndex(layout: Layout): JsonIndex<SnapshotRecord> {
  return new JsonIndex<SnapshotRecord>({ file: layout.snapshots.index, lockFile: layout.snapshots.lock, schema: SnapshotRecordSchema, kind: 'snapshot' });
}

/** The directory holding snapshot `id`'s files. */
export function snapshotDir(layout: Layout, id: string): string {
  return join(layout.snapshots.dir, id);
}

/**
 * Where an import or pull stages snapshot `id`'s files: beside the store (the final move is a
 * rename), named as a temp of its writer (`.import-<pid>.<start>-<id>`, see `store/temp.ts`),
 * so one whose writer was killed is swept by the next index write there even without a record.
 * `owner` is the writer's `<pid>.<start>` (this process by default).
 */
export function stagingDir(layout: Layout, id: string, owner = ownerTag()): string {
  return join(layout.snapshots.dir, `.import-${owner}-${id}`);
}

/** The keys that mark a record pending, written by this process (`pending_pid` + its start time). */
export function pendingByThisProcess(): Pick<SnapshotRecord, 'pending' | 'pending_pid' | 'pending_start_time'> {
  const me = selfIdentity();
  return { pending: true, pending_pid: me.pid, pending_start_time: me.start };
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
