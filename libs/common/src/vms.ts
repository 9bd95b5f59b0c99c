/** The VM index and per-VM locks, shared by the front end, cocoon-gc and cocoon-snap. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
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

/** The file in a VM's run and log dirs that names the cocoon root owning them. */
export const OWNER_FILE = 'cocoon-root';

/**
 * Makes a VM's run and log dirs (0700) and marks them with the root that owns them, so a
 * garbage collector of another cocoon root sharing the same run or log dir (e.g. the
 * default `/var/log/cocoon`) never takes them for its own orphans.
 */
export async function claimVmDirs(layout: Layout, id: string): Promise<void> {
  for (const dir of [layout.vmRunDir(id), layout.vmLogDir(id)]) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, OWNER_FILE), `${resolve(layout.root)}\n`, { mode: 0o600 });
  }
}
