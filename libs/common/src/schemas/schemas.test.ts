import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ImageRecordSchema } from './image.ts';
import { VmRecordSchema, type VmRecord } from './vm.ts';

const digest = `sha256:${'a'.repeat(64)}`;
const vm: VmRecord = {
  id: '0123456789abcdef0123456789abcdef',
  name: 'web',
  state: 'running',
  hypervisor: 'qemu',
  accel: 'tcg',
  image: { ref: 'default', id: 'fedcba9876543210fedcba9876543210', digest },
  cpu: 2,
  memory: 2 ** 30,
  storage: 10 * 2 ** 30,
  nics: 0,
  boot: { kernel: '/k', initrd: '/i', firmware: null, cmdline: 'console=ttyS0' },
  disks: [{ path: '/cow', serial: 'cocoon-cow', read_only: false, format: 'raw' }],
  pid: 42,
  created_at: '2026-11-22T10:00:00.000Z',
  started_at: null,
  stopped_at: null,
  error: null,
  booted: true,
  vsock_cid: null,
};

describe('record schemas', () => {
  it('accept a valid VM record', () => assert.deepEqual(VmRecordSchema.parse(vm), vm));
  it('reject what would corrupt the index', () => {
    for (const bad of [
      { ...vm, id: 'XYZ' },
      { ...vm, state: 'paused' },
      { ...vm, cpu: 0 },
      { ...vm, memory: -1 },
      { ...vm, hypervisor: 'vmware' },
      { ...vm, image: { ...vm.image, digest: 'md5:00' } },
      { ...vm, created_at: 'yesterday' },
      { ...vm, disks: [{ path: '/x', serial: 's', read_only: false, format: 'vmdk' }] },
    ]) {
      assert.equal(VmRecordSchema.safeParse(bad).success, false, JSON.stringify(bad).slice(0, 80));
    }
  });
  it('require sha256 digests on image records', () => {
    const image = { id: vm.image.id, name: 'default', kind: 'oci', digest, source: '-', platform: 'linux/amd64', layers: [{ digest, diff_id: null, media_type: 'x', size: 1 }], boot: null, config: null, size: 1, created_at: vm.created_at };
    assert.equal(ImageRecordSchema.safeParse(image).success, true);
    assert.equal(ImageRecordSchema.safeParse({ ...image, digest: 'sha256:short' }).success, false);
  });
});
