/**
 * Writes N valid VM records into `<root>/vms/index.json` for the start-up benchmark.
 * Every record is parsed with `VmRecordSchema` before it is written, so the benchmark
 * measures `vm list` over data the real tools accept.
 *
 *   node --import tsx bench/gen-vms.ts ROOT_DIR [COUNT=1000]
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VmRecordSchema, type VmRecord } from '@cocoon/common/schemas/vm';
import { VM_INDEX_VERSION } from '@cocoon/common/vms';

const GiB = 2 ** 30;
const STATES = ['created', 'running', 'stopped', 'error'] as const;

function hex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/** One plausible VM record; `i` varies names, states and sizes. */
function record(root: string, i: number, imageId: string, digest: string): VmRecord {
  const id = hex(16);
  const state = STATES[i % STATES.length] ?? 'created';
  const at = new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString();
  const layers = [0, 1].map((j) => ({ path: join(root, 'images', 'blobs', `${hex(32)}.erofs`), serial: `cocoon-layer${j}` }));
  return VmRecordSchema.parse({
    id,
    hypervisor: 'qemu',
    state,
    config: { name: `bench-vm-${String(i).padStart(4, '0')}`, cpu: 1 + (i % 4), memory: (1 + (i % 4)) * GiB, storage: 10 * GiB, image: 'default', image_digest: digest, image_type: 'oci' },
    pid: state === 'running' ? 100_000 + i : 0,
    socket_path: join(root, 'run', id, 'api.sock'),
    storage_configs: [
      ...layers.map((l) => ({ path: l.path, ro: true, serial: l.serial, role: 'layer', format: 'raw' })),
      { path: join(root, 'run', id, 'cow.raw'), ro: false, serial: 'cocoon-cow', role: 'cow', format: 'raw' },
    ],
    first_booted: state !== 'created',
    created_at: at,
    updated_at: at,
    ...(state === 'created' ? {} : { started_at: at }),
    ...(state === 'stopped' ? { stopped_at: at } : {}),
    accel: 'tcg',
    image_id: imageId,
    nics: i % 2,
    boot: { kernel: join(root, 'images', 'vmlinuz'), initrd: join(root, 'images', 'initrd.img'), firmware: null, cmdline: `console=ttyS0 boot=cocoon-overlay cocoon.layers=cocoon-layer0,cocoon-layer1 cocoon.cow=cocoon-cow cocoon.hostname=bench-vm-${i}` },
    ...(state === 'error' ? { error: 'bench: synthetic failure' } : {}),
  });
}

function main(): void {
  const [root, countArg = '1000'] = process.argv.slice(2);
  const count = Number(countArg);
  if (!root || !Number.isInteger(count) || count < 0) throw new Error('usage: gen-vms.ts ROOT_DIR [COUNT]');
  const imageId = hex(16);
  const digest = `sha256:${hex(32)}`;
  const items: Record<string, VmRecord> = {};
  for (let i = 0; i < count; i++) {
    const vm = record(root, i, imageId, digest);
    items[vm.id] = vm;
  }
  const dir = join(root, 'vms');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.index.json.${process.pid}`);
  writeFileSync(tmp, `${JSON.stringify({ version: VM_INDEX_VERSION, items })}\n`, { mode: 0o600 });
  renameSync(tmp, join(dir, 'index.json'));
  process.stderr.write(`gen-vms: wrote ${count} VM records to ${join(dir, 'index.json')}\n`);
}

main();
