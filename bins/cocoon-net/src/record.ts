/** The networks index record of one VM: reserved before anything is made, completed after. */
import { ConflictError } from '@cocoon/common/errors';
import type { Layout } from '@cocoon/common/layout';
import { networksIndex } from '@cocoon/common/net/networks';
import { formatPublish, publishCollides } from '@cocoon/common/net/policy';
import type { NetRecord } from '@cocoon/common/schemas/net';

/**
 * Writes `record` (state `setting-up`) under the index lock, after checking that the VM has
 * no network yet (unless `replace`, for recovery) and that no other VM publishes one of its
 * host ports. Returns the record it replaced, if any.
 */
export async function reserve(layout: Layout, record: NetRecord, replace: boolean): Promise<NetRecord | undefined> {
  return networksIndex(layout).update((items) => {
    const old = items.get(record.id);
    if (old && !replace) throw new ConflictError(`VM ${record.id.slice(0, 12)} already has a network (state ${old.state}); remove it with "cocoon net del ${record.id}"`);
    for (const other of items.values()) {
      if (other.id === record.id) continue;
      for (const mine of record.publish) {
        const taken = other.publish.find((p) => publishCollides(p, mine));
        if (taken) throw new ConflictError(`-p ${formatPublish(mine)}: host port ${taken.host_port}/${taken.protocol} is already published by VM ${other.id.slice(0, 12)}`);
      }
    }
    items.set(record.id, record);
    return old;
  });
}

/** Replaces the record of `id` with `patch` applied (no-op when it is gone). */
export async function patchRecord(layout: Layout, id: string, patch: Partial<NetRecord>): Promise<void> {
  await networksIndex(layout).update((items) => {
    const rec = items.get(id);
    if (rec) items.set(id, { ...rec, ...patch, updated_at: new Date().toISOString() });
  });
}

/** Removes the record of `id`. */
export async function dropRecord(layout: Layout, id: string): Promise<void> {
  await networksIndex(layout).update((items) => void items.delete(id));
}
