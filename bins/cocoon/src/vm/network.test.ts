import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NetworkConfig } from '@cocoon/common/schemas/vm';
import { hashPassword, networkConfig, seedFiles, userData } from './cidata.ts';
import { netmask, networkCmdline } from './network.ts';

const nics: NetworkConfig[] = [
  { tap: 'tapa-0', mac: '02:00:00:00:00:01', num_queues: 2, queue_size: 512, backend: 'cni', network: { ip: '10.0.0.2', gateway: '10.0.0.1', prefix: 24 } },
  { tap: 'tapa-1', mac: '02:00:00:00:00:02', num_queues: 2, queue_size: 512, backend: 'cni', network: { ip: '10.0.1.2', gateway: '10.0.1.1', prefix: 16 } },
  { tap: 'bta-2', mac: '02:00:00:00:00:03', num_queues: 2, queue_size: 512, backend: 'bridge', bridge_dev: 'br0' },
];

describe('guest network configuration', () => {
  it('puts one ip= per static NIC on the kernel command line', () => {
    assert.deepEqual(networkCmdline([], 'web', ['8.8.8.8']), []);
    assert.deepEqual(networkCmdline(nics, 'web', ['8.8.8.8', '1.1.1.1', '9.9.9.9']), [
      'net.ifnames=0',
      'ip=10.0.0.2::10.0.0.1:255.255.255.0:web:eth0:off:8.8.8.8:1.1.1.1',
      'ip=10.0.1.2::10.0.1.1:255.255.0.0:web:eth1:off:8.8.8.8:1.1.1.1',
    ]);
    assert.deepEqual([0, 8, 23, 32].map(netmask), ['0.0.0.0', '255.0.0.0', '255.255.254.0', '255.255.255.255']);
  });

  it('writes netplan v2: MAC-matched, static with one default route, or dhcp4', () => {
    assert.equal(networkConfig(nics, ['8.8.8.8']), [
      'version: 2', 'ethernets:',
      '  id0:', '    match:', '      macaddress: "02:00:00:00:00:01"', '    set-name: eth0', '    addresses:', '      - 10.0.0.2/24', '    routes:', '      - to: default', '        via: 10.0.0.1', '    nameservers:', '      addresses:', '        - 8.8.8.8',
      '  id1:', '    match:', '      macaddress: "02:00:00:00:00:02"', '    set-name: eth1', '    addresses:', '      - 10.0.1.2/16', '    nameservers:', '      addresses:', '        - 8.8.8.8',
      '  id2:', '    match:', '      macaddress: "02:00:00:00:00:03"', '    set-name: eth2', '    dhcp4: true',
      '',
    ].join('\n'));
    assert.equal(seedFiles({ instanceId: 'i', hostname: 'h' })['network-config'], 'version: 2\nethernets: {}\n');
  });

  it('puts only a SHA-512 crypt hash of the password in user-data', async () => {
    const hash = await hashPassword('s3cret pass');
    assert.match(hash, /^\$6\$[^$]+\$[./0-9A-Za-z]{86}$/);
    assert.notEqual(await hashPassword('s3cret pass'), hash, 'a fresh salt each time');
    const root = userData('web', { user: 'root', hash });
    assert.match(root, /chpasswd:\n {2}expire: false\n {2}users:\n {4}- name: root\n {6}password: '\$6\$[^']+'\n {6}type: hash\n/);
    assert.match(root, /disable_root: false/);
    assert.doesNotMatch(root, /s3cret/);
    const dev = userData('web', { user: 'dev', hash });
    assert.match(dev, /users:\n {2}- default\n {2}- name: dev\n/);
    assert.doesNotMatch(dev, /disable_root/);
  });
});
