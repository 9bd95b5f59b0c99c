/** The VM index and per-VM locks, shared by the front end, cocoon-gc and cocoon-snap. */
import { join } from 'node:path';
import type { Layout } from './layout.ts';
import { VmRecordSchema, type VmRecord } from './schemas/vm.ts';
import { JsonIndex } from './store/json-index.ts';

/** The VM index of `layout`. */
export function vmIndex(layout: Layout): JsonIndex<VmRecord> {
  return new JsonIndex<VmRecord>({ file: layout.vms.index, lockFile: layout.vms.lock, schema: VmRecordSchema, kind: 'VM' });
}

/** The lock that serialises start/stop/rm of one VM (held across the hypervisor call). */
export function vmLockFile(layout: Layout, id: string): string {
  return join(layout.locks, 'vms', `${id}.lock`);
}
