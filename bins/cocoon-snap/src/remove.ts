/** `snapshot rm`: the record first (under the lock), then the files; the source VM forgets it. */
import { rm } from 'node:fs/promises';
import type { Layout } from '@cocoon/common/layout';
import type { SnapshotRecord } from '@cocoon/common/schemas/snapshot';
import { findSnapshot, requireSnapshot, snapshotDir, snapshotIndex } from '@cocoon/common/snapshots/store';
import { vmIndex } from '@cocoon/common/vms';

/** Removes a complete snapshot and returns its record. */
export async function removeSnapshot(layout: Layout, ref: string): Promise<SnapshotRecord> {
  const found = await findSnapshot(layout, ref);
  const removed = await snapshotIndex(layout).update((items) => {
    const s = requireSnapshot(items, found.id);
    items.delete(s.id);
    return s;
  });
  await rm(snapshotDir(layout, removed.id), { recursive: true, force: true });
  if (removed.vm_id) {
    await vmIndex(layout).update((items) => {
      const vm = items.get(removed.vm_id as string);
      if (!vm?.snapshot_ids?.[removed.id]) return;
      const { [removed.id]: _gone, ...rest } = vm.snapshot_ids;
      items.set(vm.id, { ...vm, snapshot_ids: Object.keys(rest).length ? rest : undefined });
    });
  }
  return removed;
}
