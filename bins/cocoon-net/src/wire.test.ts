import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CniConflist } from '@cocoon/common/schemas/net';
import { checkResult, pluginConfig, runtimeConfigOf } from './cni.ts';
import { addressOf } from './setup.ts';
import { dropLines, ipLines, tcLines, type NicWire } from './wire.ts';

const nic: NicWire = { ifName: 'eth0', tap: 'tap01234567-0', pairs: 2, mtu: 1450 };
const redirectToVeth = 'action mirred egress redirect dev eth0';

describe('TAP + TC redirect lines', () => {
  it('makes a vnet_hdr TAP (multi-queue only with more than one pair) with the veth MTU, flushes the veth', () => {
    assert.deepEqual(ipLines([nic]), ['link set dev lo up', 'addr flush dev eth0', 'tuntap add dev tap01234567-0 mode tap vnet_hdr multi_queue', 'link set dev tap01234567-0 mtu 1450', 'link set dev eth0 up', 'link set dev tap01234567-0 up']);
    assert.ok(ipLines([{ ...nic, pairs: 1 }]).includes('tuntap add dev tap01234567-0 mode tap vnet_hdr'));
    assert.ok(ipLines([{ ...nic, mac: '02:00:00:00:00:01' }]).includes('link set dev eth0 address 02:00:00:00:00:01'), 'recovery keeps the MAC');
  });

  it('redirects everything both ways without a policy', () => {
    assert.deepEqual(tcLines([nic], undefined, []), [
      'qdisc add dev eth0 ingress',
      'qdisc add dev tap01234567-0 ingress',
      'filter add dev eth0 parent ffff: protocol all prio 1 u32 match u32 0 0 action mirred egress redirect dev tap01234567-0',
      `filter add dev tap01234567-0 parent ffff: protocol all prio 1 u32 match u32 0 0 ${redirectToVeth}`,
    ]);
    assert.deepEqual(dropLines([nic], undefined), []);
  });

  it('deny mode: redirects ARP, the rules, DHCP and replies from published ports; nothing else', () => {
    const lines = tcLines([nic], { mode: 'deny', rules: [{ cidr: '10.0.0.53/32', port: 53 }, { cidr: '10.1.0.0/16' }] }, [{ host_port: 8080, container_port: 80, protocol: 'tcp' }]);
    const tap = lines.filter((l) => l.startsWith('filter add dev tap'));
    assert.deepEqual(tap, [
      `filter add dev tap01234567-0 parent ffff: protocol arp prio 1 u32 match u32 0 0 ${redirectToVeth}`,
      `filter add dev tap01234567-0 parent ffff: protocol ip prio 2 u32 match ip dst 10.0.0.53/32 match ip protocol 6 0xff match ip dport 53 0xffff ${redirectToVeth}`,
      `filter add dev tap01234567-0 parent ffff: protocol ip prio 3 u32 match ip dst 10.0.0.53/32 match ip protocol 17 0xff match ip dport 53 0xffff ${redirectToVeth}`,
      `filter add dev tap01234567-0 parent ffff: protocol ip prio 4 u32 match ip dst 10.1.0.0/16 ${redirectToVeth}`,
      `filter add dev tap01234567-0 parent ffff: protocol ip prio 5 u32 match ip protocol 17 0xff match ip sport 68 0xffff match ip dport 67 0xffff ${redirectToVeth}`,
      `filter add dev tap01234567-0 parent ffff: protocol ip prio 6 u32 match ip protocol 6 0xff match ip sport 80 0xffff ${redirectToVeth}`,
    ]);
    assert.deepEqual(dropLines([nic], { mode: 'deny', rules: [] }), ['filter add dev tap01234567-0 parent ffff: protocol all prio 65000 u32 match u32 0 0 action drop']);
  });

  it('allow mode: the rules match first without a redirect, then everything else is redirected', () => {
    const tap = tcLines([nic], { mode: 'allow', rules: [{ cidr: '169.254.169.254/32' }] }, []).filter((l) => l.startsWith('filter add dev tap'));
    assert.deepEqual(tap, [
      'filter add dev tap01234567-0 parent ffff: protocol ip prio 1 u32 match ip dst 169.254.169.254/32 classid 1:1',
      `filter add dev tap01234567-0 parent ffff: protocol all prio 2 u32 match u32 0 0 ${redirectToVeth}`,
    ]);
    assert.deepEqual(dropLines([nic], { mode: 'allow', rules: [] }), []);
  });
});

describe('CNI plugin input', () => {
  const list: CniConflist = { cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'bridge' }, { type: 'portmap', capabilities: { portMappings: true } }] };
  const target = { containerId: 'c', netns: '/var/run/netns/x', ifName: 'eth0', runtimeConfig: runtimeConfigOf([{ host_port: 1, container_port: 2, protocol: 'udp' }], 0) };

  it('adds name, cniVersion, prevResult, and runtimeConfig only for declared capabilities', () => {
    const prev = { cniVersion: '1.0.0', ips: [{ address: '10.0.0.2/24', gateway: '10.0.0.1' }] };
    assert.deepEqual(pluginConfig(list, list.plugins[0]!, target, undefined), { type: 'bridge', cniVersion: '1.0.0', name: 'n' });
    assert.deepEqual(pluginConfig(list, list.plugins[1]!, target, prev), {
      type: 'portmap', capabilities: { portMappings: true }, cniVersion: '1.0.0', name: 'n', prevResult: prev,
      runtimeConfig: { portMappings: [{ hostPort: 1, containerPort: 2, protocol: 'udp' }] },
    });
    assert.deepEqual(runtimeConfigOf([{ host_port: 1, container_port: 2, protocol: 'udp' }], 1), {}, 'published ports ride the first NIC only');
  });

  it('reads the guest address from a result and hides the moved addresses from CHECK', () => {
    const result = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0' }], ips: [{ address: 'fd00::2/64' }, { address: '10.0.0.2/24', gateway: '10.0.0.1' }], routes: [{ dst: '0.0.0.0/0' }] };
    assert.deepEqual(addressOf(result), { ip: '10.0.0.2', prefix: 24, gateway: '10.0.0.1' });
    assert.equal(addressOf({ cniVersion: '1.0.0' }), undefined);
    assert.deepEqual(checkResult(result), { cniVersion: '1.0.0', interfaces: [{ name: 'eth0' }] });
  });
});
