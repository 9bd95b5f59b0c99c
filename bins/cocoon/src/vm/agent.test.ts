/**
 * How `vm exec` reaches an agent, per hypervisor and host: the vhost-vsock path is taken
 * with a stand-in for /dev/vhost-vsock (COCOON_VHOST_VSOCK), since this host has none: the
 * channel is kernel AF_VSOCK to the VM's CID, and connecting fails with the host's own
 * answer (no vsock transport for guests here) instead of touching a serial port.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { vmPaths } from '@cocoon/common/hypervisor/index';
import { layoutOf } from '@cocoon/common/layout';
import type { VmRecord } from '@cocoon/common/schemas/vm';
import { channelOf, openAgentStream } from './agent.ts';

const dir = mkdtempSync(join(tmpdir(), 'cocoon-agent-channel-'));
const standIn = join(dir, 'vhost-vsock');
writeFileSync(standIn, '');
after(() => rmSync(dir, { recursive: true, force: true }));
const layout = layoutOf({ root_dir: join(dir, 'root'), run_dir: join(dir, 'run'), log_dir: join(dir, 'log') });

const vm = (over: Partial<VmRecord>): VmRecord => ({
  id: 'b'.repeat(32), hypervisor: 'qemu', state: 'running', pid: 1, storage_configs: [], first_booted: true,
  config: { name: 'v', cpu: 1, memory: 2 ** 29, storage: 2 ** 30, image: 'default', image_digest: `sha256:${'c'.repeat(64)}`, image_type: 'oci' },
  created_at: '2026-01-01T00:00:00.000Z', updated_at: '2026-01-01T00:00:00.000Z', accel: 'tcg', image_id: 'd'.repeat(32), nics: 0,
  boot: { kernel: null, initrd: null, firmware: null, cmdline: '' }, ...over,
});

describe('agent channels', () => {
  it('QEMU without vhost-vsock: the serial port pool in the run dir', () => {
    delete process.env.COCOON_VHOST_VSOCK;
    assert.deepEqual(channelOf(layout, vm({ vsock_cid: 3 })), { kind: 'pool', dir: vmPaths(layout, 'b'.repeat(32)).agentPoolDir });
  });

  it('QEMU with vhost-vsock (a stand-in device): AF_VSOCK to its CID, which this host cannot reach', async () => {
    process.env.COCOON_VHOST_VSOCK = standIn;
    try {
      const target = { vm: vm({ vsock_cid: 3 }), channel: channelOf(layout, vm({ vsock_cid: 3 })) };
      assert.deepEqual(target.channel, { kind: 'vsock', cid: 3 });
      await assert.rejects(openAgentStream(target, Date.now() + 300), /did not answer.*vsock 3:1024: this host has no AF_VSOCK transport/);
    } finally {
      delete process.env.COCOON_VHOST_VSOCK;
    }
  });

  it('Cloud Hypervisor and Firecracker: their hybrid-vsock socket', () => {
    const paths = vmPaths(layout, 'b'.repeat(32));
    assert.deepEqual(channelOf(layout, vm({ hypervisor: 'cloud-hypervisor' })), { kind: 'hybrid', socket: paths.vsockSocket });
    assert.deepEqual(channelOf(layout, vm({ hypervisor: 'firecracker' })), { kind: 'hybrid', socket: paths.vsockSocket });
  });
});
