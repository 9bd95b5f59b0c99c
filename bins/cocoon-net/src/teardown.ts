/**
 * `cocoon-net del`: undoes a VM's network from its networks index record, best effort:
 * CNI DEL of every NIC (plugins in reverse, with the cached ADD result), then the netns
 * (which takes the TAPs and the veth ends with it), or the host TAPs in bridge mode. The
 * netns is removed even when a plugin fails; a failure keeps the record (with `error`) so
 * a later `del` or `gc` can finish the leases.
 */
import { ExternalError } from '@cocoon/common/errors';
import type { Layout } from '@cocoon/common/layout';
import { netnsName, netnsPath } from '@cocoon/common/net/names';
import { networksIndex } from '@cocoon/common/net/networks';
import type { NetRecord } from '@cocoon/common/schemas/net';
import { binDirs, delList, runtimeConfigOf } from './cni.ts';
import { deleteNetns } from './netns.ts';
import { dropRecord, patchRecord } from './record.ts';
import { deleteTaps } from './links.ts';

/** CNI DEL of every NIC of `rec` (last NIC first), then its netns; returns what failed. */
export async function teardownCni(rec: NetRecord, dirs: readonly string[]): Promise<string[]> {
  const errors: string[] = [];
  if (rec.conflist) {
    for (const [i, nic] of [...rec.nics.entries()].reverse()) {
      const target = { containerId: rec.id, netns: netnsPath(rec.id), ifName: nic.if_name, runtimeConfig: runtimeConfigOf(rec.publish, i) };
      errors.push(...(await delList(rec.conflist, target, dirs, nic.result)));
    }
  }
  await deleteNetns(rec.netns ?? netnsName(rec.id)).catch((err: Error) => errors.push(err.message));
  return errors;
}

/** Tears down the network of VM `id`; without a record, only a netns of that name is removed. */
export async function delNetwork(layout: Layout, id: string): Promise<void> {
  const rec = (await networksIndex(layout).load()).get(id);
  if (!rec) {
    await deleteNetns(netnsName(id));
    return;
  }
  await patchRecord(layout, id, { state: 'tearing-down' });
  const errors = rec.backend === 'bridge' ? await deleteTaps(rec.nics.map((n) => n.tap)) : await teardownCni(rec, binDirs(layout.cni.binDir));
  if (errors.length > 0) {
    await patchRecord(layout, id, { error: errors.join('; ') });
    throw new ExternalError(`network of VM ${id.slice(0, 12)} not fully removed: ${errors.join('; ')}`);
  }
  await dropRecord(layout, id);
}
