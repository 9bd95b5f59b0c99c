import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NetworkConfig } from '@cocoon/common/schemas/vm';
import { networkConfig } from './cidata.ts';
import { netmask, networkCmdline } from './network.ts';

const nics: NetworkConfig[] = [
  { tap: 'tapa-0', mac: '02:00:00:00:00:01', num_queues: 2, queue_size: 512, backend: 'cni', network: { ip: '10.0.0.2', gateway: '10.0.0.1', prefix: 24 } },
  { tap: 'tapa-1', mac: '02:00:00:00:00:02', num_queues: 2, queue_size: 512, backend: 'cni', network: { ip: '10.0.1.2', gateway: '10.0.1.1', prefix: 16 } },
  { tap: 'bta-2', mac: '02:00:00:00:00:03', num_queues: 2, queue_size: 512, backend: 'bridge', bridge_dev: 'br0' },
];

describe('guest network configuration', () => {
  it('gives netplan one default route, the first NIC\'s', () => {
    const doc = networkConfig(nics, []) as { ethernets: Record<string, { routes?: unknown[]; dhcp4?: boolean }> };
    assert.deepEqual(doc.ethernets.eth0?.routes, [{ to: '0.0.0.0/0', via: '10.0.0.1' }]);
    assert.equal(doc.ethernets.eth1?.routes, undefined);
    assert.equal(doc.ethernets.eth2?.dhcp4, true);
  });

  it('puts one ip= per static NIC on the kernel command line', () => {
    assert.deepEqual(networkCmdline([], 'web', ['8.8.8.8']), []);
    assert.deepEqual(networkCmdline(nics, 'web', ['8.8.8.8', '1.1.1.1', '9.9.9.9']), [
      'net.ifnames=0',
      'ip=10.0.0.2::10.0.0.1:255.255.255.0:web:eth0:off:8.8.8.8:1.1.1.1',
      'ip=10.0.1.2::10.0.1.1:255.255.0.0:web:eth1:off:8.8.8.8:1.1.1.1',
    ]);
    assert.deepEqual([0, 8, 23, 32].map(netmask), ['0.0.0.0', '255.0.0.0', '255.255.254.0', '255.255.255.255']);
  });
});
