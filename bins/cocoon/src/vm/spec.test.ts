import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { vmPaths } from '@cocoon/common/hypervisor/index';
import { layoutOf } from '@cocoon/common/layout';
import type { ImageResolve } from '@cocoon/common/schemas/image';
import { kernelCmdline, pmemPlan, vmDisks } from './spec.ts';

const UUID = '0123abcd-4567-89ab-cdef-0123456789ab';
const image = (guestPmem: boolean): ImageResolve => ({
  id: 'a'.repeat(32), name: 'default', digest: `sha256:${'b'.repeat(64)}`, kind: 'oci', kernel: '/k', initrd: '/i', firmware: null,
  cmdline: ['boot=cocoon-overlay'],
  disks: [
    { path: '/s/l0.erofs', serial: 'cocoon-layer0', read_only: true, format: 'raw' },
    { path: '/s/l1.erofs', serial: 'cocoon-layer1', read_only: true, format: 'raw', dax: true, uuid: UUID },
  ],
  ...(guestPmem ? { guest_pmem: true } : {}),
});
const paths = vmPaths(layoutOf({ root_dir: '/r', run_dir: '/r/run', log_dir: '/r/log' }), 'c'.repeat(32));

describe('pmem layers of a new VM', () => {
  it('maps a DAX layer through virtio-pmem on QEMU when the guest mounts pmem layers', () => {
    const plan = pmemPlan(image(true), 'qemu');
    assert.deepEqual([...plan.layers], [1]);
    assert.equal(plan.notice, undefined);
    const disks = vmDisks(image(true), paths, [], false, plan);
    assert.deepEqual(disks.map((d) => [d.serial, d.pmem]), [['cocoon-layer0', undefined], ['cocoon-layer1', true], ['cocoon-cow', undefined]]);
    const cmdline = kernelCmdline(image(true), 'web', disks);
    assert.match(cmdline, / cocoon\.layers=cocoon-layer0,pmem:0123abcd456789abcdef0123456789ab /);
    assert.match(cmdline, / swiotlb=1024 /, 'no 64 MiB of bounce buffers for hot-pluggable memory above 4 GiB');
  });

  it('keeps block devices, with a one-line notice, for a guest without pmem support or another hypervisor', () => {
    for (const [img, hv, why] of [[image(false), 'qemu', /io\.cocoon\.guest\.pmem/], [image(true), 'cloud-hypervisor', /cloud-hypervisor driver/]] as const) {
      const plan = pmemPlan(img, hv);
      assert.equal(plan.layers.size, 0);
      assert.match(plan.notice ?? '', why);
      assert.equal(plan.notice?.includes('\n'), false);
      const disks = vmDisks(img, paths, [], false, plan);
      assert.ok(disks.every((d) => d.pmem === undefined));
      assert.doesNotMatch(kernelCmdline(img, 'web', disks), /pmem:|swiotlb/);
    }
  });

  it('says nothing for an image without DAX layers', () => {
    const plain = { ...image(true), disks: image(true).disks.map(({ dax: _d, uuid: _u, ...d }) => d) };
    assert.deepEqual(pmemPlan(plain, 'qemu'), { layers: new Set() });
  });
});
