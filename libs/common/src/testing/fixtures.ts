/** Valid records for unit and CLI tests (parsed by their schemas, so a stale fixture fails loudly). */
import { randomBytes } from 'node:crypto';
import type { Layout } from '../layout.ts';
import { VmRecordSchema, type VmRecord } from '../schemas/vm.ts';

/** A fresh 32-hex ID. */
export function testId(): string {
  return randomBytes(16).toString('hex');
}

/** A stopped QEMU VM record named `name` under `layout`, with `patch` applied. */
export function vmRecord(layout: Layout, name: string, patch: Partial<VmRecord> = {}): VmRecord {
  const id = patch.id ?? testId();
  const now = new Date().toISOString();
  const run = layout.vmRunDir(id);
  return VmRecordSchema.parse({
    id,
    hypervisor: 'qemu',
    state: 'stopped',
    config: { name, cpu: 1, memory: 2 ** 29, storage: 2 ** 30, image: 'default', image_digest: `sha256:${'b'.repeat(64)}`, image_type: 'oci' },
    pid: 0,
    socket_path: `${run}/api.sock`,
    storage_configs: [
      { path: `${layout.images.blobs}/${'c'.repeat(64)}.erofs`, ro: true, serial: 'cocoon-layer0', role: 'layer', format: 'raw' },
      { path: `${run}/cow.raw`, ro: false, serial: 'cocoon-cow', role: 'cow', format: 'raw' },
    ],
    first_booted: false,
    created_at: now,
    updated_at: now,
    accel: 'tcg',
    image_id: 'd'.repeat(32),
    nics: 0,
    boot: { kernel: '/k', initrd: '/i', firmware: null, cmdline: 'console=ttyS0' },
    ...patch,
  });
}
