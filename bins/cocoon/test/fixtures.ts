/** Test fixtures of the front end: VM records written straight into a temp root's index. */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { layoutOf, type Layout } from '@cocoon/common/layout';
import { newId } from '@cocoon/common/refs';
import { VmRecordSchema, type VmRecord } from '@cocoon/common/schemas/vm';
import { vmIndex } from '@cocoon/common/vms';

/** A fresh root (its layout, its env for the CLI, and a cleanup). */
export function tempRoot(prefix: string): { root: string; layout: Layout; env: NodeJS.ProcessEnv; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const layout = layoutOf({ root_dir: root, run_dir: join(root, 'run'), log_dir: join(root, 'log') });
  const env = { COCOON_ROOT_DIR: root, COCOON_RUN_DIR: layout.run, COCOON_LOG_DIR: layout.log, PATH: process.env.PATH };
  return { root, layout, env, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** The `config` of a fixture VM. */
export function baseConfig(name = 'vm'): VmRecord['config'] {
  return { name, cpu: 1, memory: 2 ** 28, storage: 2 ** 30, image: 'default', image_digest: `sha256:${'a'.repeat(64)}`, image_type: 'oci' };
}

/** Writes a valid VM record (a stopped QEMU VM unless `patch` says otherwise) and its run dir. */
export async function addVm(layout: Layout, name: string, patch: Partial<VmRecord> = {}): Promise<VmRecord> {
  const id = newId();
  const now = new Date().toISOString();
  const run = layout.vmRunDir(id);
  const vm = VmRecordSchema.parse({
    id,
    hypervisor: 'qemu',
    state: 'created',
    pid: 0,
    socket_path: join(run, 'api.sock'),
    storage_configs: [{ path: join(run, 'cow.raw'), ro: false, serial: 'cocoon-cow', role: 'cow', format: 'raw' }],
    first_booted: false,
    created_at: now,
    updated_at: now,
    accel: 'tcg',
    image_id: 'b'.repeat(32),
    nics: 0,
    boot: { kernel: '/nonexistent/vmlinuz', initrd: null, firmware: null, cmdline: 'console=ttyS0' },
    ...patch,
    config: { ...baseConfig(name), ...patch.config, name },
  });
  mkdirSync(run, { recursive: true, mode: 0o700 });
  await vmIndex(layout).update((items) => void items.set(vm.id, vm));
  return vm;
}
