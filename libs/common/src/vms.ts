/** The VM index and per-VM locks, shared by the front end, cocoon-gc and cocoon-snap. */
import { join } from 'node:path';
import type { Layout } from './layout.ts';
import { upgradeVmRecordV1 } from './schemas/vm-v1.ts';
import { VmRecordSchema, vmName, type VmRecord } from './schemas/vm.ts';
import { JsonIndex } from './store/json-index.ts';

/** Version 2: records in the Go cocoon's shape (`config.name` …); version 1 files are upgraded on read. */
export const VM_INDEX_VERSION = 2;

/** The VM index of `layout`. */
export function vmIndex(layout: Layout): JsonIndex<VmRecord> {
  return new JsonIndex<VmRecord>({
    file: layout.vms.index,
    lockFile: layout.vms.lock,
    schema: VmRecordSchema,
    kind: 'VM',
    nameOf: vmName,
    version: VM_INDEX_VERSION,
    upgrade: (item) => upgradeVmRecordV1(item, (id) => join(layout.vmRunDir(id), 'cidata.img'), (id) => join(layout.vmRunDir(id), 'api.sock')),
  });
}

/** The lock that serialises start/stop/rm of one VM (held across the hypervisor call). */
export function vmLockFile(layout: Layout, id: string): string {
  return join(layout.locks, 'vms', `${id}.lock`);
}
