import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ImageRecordSchema } from './image.ts';
import { VmRecordSchema, type VmRecord } from './vm.ts';

const digest = `sha256:${'a'.repeat(64)}`;
const vm: VmRecord = {
  id: '0123456789abcdef0123456789abcdef',
  hypervisor: 'qemu',
  state: 'running',
  config: { name: 'web', cpu: 2, memory: 2 ** 30, storage: 10 * 2 ** 30, image: 'default', image_digest: digest, image_type: 'oci' },
  pid: 42,
  socket_path: '/run/x/api.sock',
  storage_configs: [{ path: '/cow', ro: false, serial: 'cocoon-cow', role: 'cow', format: 'raw' }],
  first_booted: true,
  created_at: '2026-11-22T10:00:00.000Z',
  updated_at: '2026-11-22T10:00:01.000Z',
  started_at: '2026-11-22T10:00:01.000Z',
  accel: 'tcg',
  image_id: 'fedcba9876543210fedcba9876543210',
  nics: 0,
  boot: { kernel: '/k', initrd: '/i', firmware: null, cmdline: 'console=ttyS0' },
};

describe('record schemas', () => {
  it('accept a valid VM record', () => assert.deepEqual(VmRecordSchema.parse(vm), vm));
  it('reject what would corrupt the index', () => {
    for (const bad of [
      { ...vm, id: 'XYZ' },
      { ...vm, state: 'sleeping' },
      { ...vm, config: { ...vm.config, cpu: 0 } },
      { ...vm, config: { ...vm.config, memory: -1 } },
      { ...vm, config: { ...vm.config, image_type: 'cloud' } },
      { ...vm, hypervisor: 'vmware' },
      { ...vm, config: { ...vm.config, image_digest: 'md5:00' } },
      { ...vm, created_at: 'yesterday' },
      { ...vm, pid: null },
      { ...vm, storage_configs: [{ path: '/x', ro: false, serial: 's', role: 'cow', format: 'vmdk' }] },
      { ...vm, storage_configs: [{ path: '/x', ro: false, serial: 's', role: 'swap', format: 'raw' }] },
      { ...vm, network_configs: [{ tap: 't', mac: 'not-a-mac', num_queues: 1, queue_size: 0 }] },
    ]) {
      assert.equal(VmRecordSchema.safeParse(bad).success, false, JSON.stringify(bad).slice(0, 80));
    }
  });
  it('require sha256 digests on image records', () => {
    const image = { id: vm.image_id, name: 'default', kind: 'oci', digest, source: '-', platform: 'linux/amd64', layers: [{ digest, diff_id: null, media_type: 'x', size: 1 }], boot: null, config: null, size: 1, created_at: vm.created_at };
    assert.equal(ImageRecordSchema.safeParse(image).success, true);
    assert.equal(ImageRecordSchema.safeParse({ ...image, digest: 'sha256:short' }).success, false);
  });
});
