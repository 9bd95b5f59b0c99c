import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { native } from '../native.ts';
import { connectVsock } from './connect.ts';
import { listenOnFd } from './fd-stream.ts';

describe('AF_VSOCK through the native addon', () => {
  it('binds, listens through libuv and closes cleanly', () => {
    const fd = native().vsockListen(40000 + (process.pid % 20000), 8);
    assert.ok(fd >= 0, `vsockListen failed: errno ${-fd} (is the vsock module loaded?)`);
    assert.equal(native().vsockPeerCid(fd), -107, 'a listening socket has no peer (ENOTCONN)');
    const listener = listenOnFd(fd, 8, () => assert.fail('no one connects'), (err) => assert.fail(err));
    listener.close();
  });

  it('turns an unreachable CID into a clear error', () => {
    // This host has no vhost-vsock or loopback transport: connect fails, typed and named.
    assert.throws(() => connectVsock(1, 9, 300), /vsock 1:9/);
  });
});
