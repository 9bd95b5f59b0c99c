/**
 * The networks index (`<root>/networks/index.json`, one record per VM, keyed by VM ID):
 * what `cocoon-net` allocated for each VM (netns, TAPs, CNI results with the IPAM leases,
 * published ports). `cocoon-net add` writes the record before it makes anything, so a
 * record in `setting-up` or `tearing-down` whose VM is gone from the VM index is what a
 * killed command left: `cocoon net del <id>` (and `cocoon gc`) finishes it.
 */
import type { Layout } from '../layout.ts';
import { NetRecordSchema, type NetRecord } from '../schemas/net.ts';
import { JsonIndex } from '../store/json-index.ts';

/** The networks index of `layout`. */
export function networksIndex(layout: Layout): JsonIndex<NetRecord> {
  return new JsonIndex<NetRecord>({
    file: layout.networks.index,
    lockFile: layout.networks.lock,
    schema: NetRecordSchema,
    kind: 'network',
    nameOf: () => undefined,
  });
}
