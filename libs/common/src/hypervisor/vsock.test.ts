import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostHasVhostVsock, nextGuestCid } from './vsock.ts';
import { qemuCommandLine } from './qemu/args.ts';
import { testLaunchSpec } from '../testing/launch-spec.ts';

const spec = (vsockCid: number | null) => testLaunchSpec({ vsockCid, disks: [] });

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
