import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostHasVhostVsock, nextGuestCid } from './vsock.ts';
import { qemuCommandLine } from './qemu/args.ts';
import { vmPaths, type LaunchSpec } from './index.ts';
import { layoutOf } from '../layout.ts';

const layout = layoutOf({ root_dir: '/r', run_dir: '/r/run', log_dir: '/l' });
const spec = (vsockCid: number | null): LaunchSpec => ({
  id: 'a'.repeat(32), name: 'v', cpu: 1, memory: 2 ** 29, accel: 'tcg', kernel: '/k', initrd: null, firmware: null,
  cmdline: 'console=ttyS0', disks: [], vsockCid, nics: [], netns: null, vhostNet: false, paths: vmPaths(layout, 'a'.repeat(32)),
});

describe('guest vsock', () => {
  it('hands out the smallest free CID from 3', () => {
    assert.equal(nextGuestCid([]), 3);
    assert.equal(nextGuestCid([3, 4, null, 6]), 5);
  });
  it('sees no vhost-vsock where the device is missing', () => assert.equal(hostHasVhostVsock('/nonexistent/vhost-vsock'), false));
  it('adds vhost-vsock-pci with the CID only when the VM has one; virtio-serial always', () => {
    const withCid = qemuCommandLine(spec(7)).args;
    assert.ok(withCid.includes('vhost-vsock-pci,id=vsock0,guest-cid=7'));
    const without = qemuCommandLine(spec(null)).args;
    assert.ok(!without.some((a) => a.startsWith('vhost-vsock-pci')));
    for (const args of [withCid, without]) assert.ok(args.some((a) => a.includes('name=org.cocoon.agent')), 'the serial channel is always there');
  });
});
