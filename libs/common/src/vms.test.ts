import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { layoutOf } from './layout.ts';
import { vmIndex, VM_INDEX_VERSION } from './vms.ts';

const root = mkdtempSync(join(tmpdir(), 'cocoon-vms-'));
after(() => rmSync(root, { recursive: true, force: true }));
const layout = layoutOf({ root_dir: root, run_dir: join(root, 'run'), log_dir: join(root, 'log') });
const digest = `sha256:${'b'.repeat(64)}`;

/** A record as cocoon 0.1 wrote it (index version 1). */
function v1(id: string, name: string, cloud: boolean) {
  return {
    id, name, state: 'stopped', hypervisor: 'qemu', accel: 'tcg',
    image: { ref: cloud ? 'https://x/noble.qcow2' : 'default', id: 'c'.repeat(32), digest },
    cpu: 1, memory: 2 ** 29, storage: 2 ** 30, nics: 0,
    boot: cloud ? { kernel: null, initrd: null, firmware: '/OVMF_CODE.fd', cmdline: '' } : { kernel: '/k', initrd: '/i', firmware: null, cmdline: 'console=ttyS0' },
    disks: cloud
      ? [{ path: `/run/${id}/root.qcow2`, serial: 'cocoon-root', read_only: false, format: 'qcow2' }]
      : [{ path: '/blobs/l0.erofs', serial: 'cocoon-layer0', read_only: true, format: 'raw' }, { path: `/run/${id}/cow.raw`, serial: 'cocoon-cow', read_only: false, format: 'raw' }],
    pid: null, created_at: '2026-11-01T00:00:00.000Z', started_at: '2026-11-01T00:00:01.000Z', stopped_at: '2026-11-01T00:00:02.000Z',
    error: null, booted: true, vsock_cid: null,
  };
}

describe('VM index', () => {
  it('upgrades a version 1 index (cocoon 0.1) on read and writes the current version on update', async () => {
    const [a, b] = ['a'.repeat(32), 'd'.repeat(32)];
    mkdirSync(layout.vms.dir, { recursive: true });
    writeFileSync(layout.vms.index, JSON.stringify({ version: 1, items: { [a]: v1(a, 'web', false), [b]: v1(b, 'noble', true) } }));
    const idx = vmIndex(layout);
    const web = await idx.resolve('web');
    assert.equal(web.config.name, 'web');
    assert.equal(web.config.image_type, 'oci');
    assert.equal(web.pid, 0);
    assert.deepEqual(web.storage_configs.map((d) => d.role), ['layer', 'cow']);
    const noble = await idx.resolve('noble');
    assert.equal(noble.config.image_type, 'cloudimg');
    assert.deepEqual(noble.storage_configs.map((d) => d.role), ['cow', 'cidata']);
    assert.equal(noble.first_booted, true);
    await idx.update(() => undefined);
    const written = JSON.parse(readFileSync(layout.vms.index, 'utf8')) as { version: number; items: Record<string, { config: { name: string } }> };
    assert.equal(written.version, VM_INDEX_VERSION);
    assert.equal(written.items[a]?.config.name, 'web');
  });

  it('refuses an index written by a newer cocoon', async () => {
    writeFileSync(layout.vms.index, JSON.stringify({ version: VM_INDEX_VERSION + 1, items: {} }));
    await assert.rejects(vmIndex(layout).list(), /written by a newer cocoon/);
  });
});
