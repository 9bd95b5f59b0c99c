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
  it('adds vhost-vsock-pci with the CID when the VM has one, and then no serial port pool', () => {
    const withCid = qemuCommandLine(spec(7)).args.join(' ');
    assert.match(withCid, /-device vhost-vsock-pci,id=vsock0,guest-cid=7/);
    assert.doesNotMatch(withCid, /virtserialport|\/agent\/0\.sock/);
  });
  it('gives a VM without a CID the serial port pool: 8 ports, each with its own event monitor', () => {
    const args = qemuCommandLine(spec(null)).args.join(' ');
    assert.doesNotMatch(args, /vhost-vsock/);
    assert.equal(args.match(/virtserialport/g)?.length, 8);
    assert.match(args, /name=org\.cocoon\.agent,id=agentport0/);
    assert.match(args, /name=org\.cocoon\.agent\.7,id=agentport7/);
    assert.match(args, /path=\/r\/run\/a+\/agent\/7\.qmp,server=on,wait=off -mon chardev=agentev7,mode=control/);
  });
});
