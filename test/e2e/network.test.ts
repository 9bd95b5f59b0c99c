/**
 * Networking end to end, inside namespaces this suite makes (the machine's own network
 * namespace is never touched): `cnet-h-<pid>` plays the host and runs cocoon; far ends
 * `cnet-a-<pid>` (address A) and `cnet-b-<pid>` (address B) hang off it through veths.
 * Real parts: the Debian CNI plugins (bridge, host-local, portmap), iproute2/tc, QEMU/TCG
 * and the default guest. ONE VM with two NICs, a published port and an egress allow-list
 * is booted (and booted again after its netns is deleted by hand); a second VM shows
 * bridge mode with DHCP from busybox udhcpd.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa, type ResultPromise } from 'execa';
import { z } from 'zod';
import { NetRecordSchema } from '@cocoon/common/schemas/net';
import { VmInspectSchema } from '@cocoon/common/schemas/vm';
import { ensureDefaultImage, requireTools } from '../helpers/cocoon.ts';
import { addNs, cocoonIn, delNs, inNs, ip, linkFarEnd, links, netnsList, okIn, writeConflist } from '../helpers/netns.ts';

const H = `cnet-h-${process.pid}`;
const A_NS = `cnet-a-${process.pid}`;
const B_NS = `cnet-b-${process.pid}`;
const [A, B, GW] = ['198.18.2.2', '198.18.3.2', '198.18.1.1'];
const scratch = mkdtempSync(join(tmpdir(), 'cocoon-net-e2e-'));
const conf = join(scratch, 'conf');
const netEnv = { COCOON_CNI_CONF_DIR: conf };
const VM = `net-${process.pid}`;
const BVM = `bridge-${process.pid}`;
const AVM = `allow-${process.pid}`;
const cocoon = (args: string[]) => okIn(H, args, netEnv);
const inspect = async (name: string) => VmInspectSchema.parse(JSON.parse(await cocoon(['vm', 'inspect', name])));
const guest = async (name: string, script: string) => cocoonIn(H, ['vm', 'exec', name, '--', 'sh', '-c', script], netEnv);
const ping = (ns: string, addr: string) => inNs(ns, ['busybox', 'ping', '-c', '1', '-W', '5', addr], { reject: false });
const leases = () => readdirSync(join(conf, 'ipam', 'e2e')).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));
const listeners: ResultPromise[] = [];

/** A one-shot TCP listener in `ns` that resolves with what it received. */
function listen(ns: string, port: number): ResultPromise {
  const child = execa('ip', ['netns', 'exec', ns, 'busybox', 'nc', '-l', '-p', String(port)], { reject: false, timeout: 120_000 });
  listeners.push(child);
  return child;
}

describe('VM networking: CNI, TAP + TC redirect, published ports, egress policy, recovery', () => {
  let vm: z.infer<typeof VmInspectSchema>;

  before(async () => {
    requireTools();
    await ensureDefaultImage();
    for (const ns of [H, A_NS, B_NS]) await addNs(ns);
    await linkFarEnd(H, A_NS, 'to-a', '198.18.2.1/24', `${A}/24`);
    await linkFarEnd(H, B_NS, 'to-b', '198.18.3.1/24', `${B}/24`);
    await inNs(H, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    writeConflist(conf, { name: 'e2e', bridge: 'cnbr0', subnet: '198.18.1.0/24' });
    await cocoon(['vm', 'run', '--wait', '--wait-timeout', '180', '--name', VM, '--nics', '2', '--cpu', '2', '--memory', '512M', '--storage', '1G',
      '-p', '8080:80', '--egress', 'deny', '--egress-rule', `${GW}/32`, '--egress-rule', `${A}:7000/tcp`, 'default']);
    vm = await inspect(VM);
  });
  after(async () => {
    for (const l of listeners) l.kill();
    await cocoonIn(H, ['vm', 'rm', '--force', VM, BVM, AVM], netEnv);
    await delNs(H, A_NS, B_NS);
    rmSync(scratch, { recursive: true, force: true });
  });

  it('records each NIC: TAP, the veth MAC, queues, netns, address from host-local; vm debug shows QEMU in the netns', async () => {
    const nics = vm.network_configs ?? [];
    assert.equal(nics.length, 2);
    const ns = `cocoon-${vm.id}`;
    const inside = await links(ns);
    nics.forEach((n, i) => {
      assert.equal(n.tap, `tap${vm.id.slice(0, 8)}-${i}`);
      assert.equal(n.backend, 'cni');
      assert.equal(n.netns_path, `/var/run/netns/${ns}`);
      assert.equal(n.num_queues, 4, 'two vCPUs: two queue pairs');
      assert.equal(n.mac, inside.find((l) => l.ifname === `eth${i}`)?.address, 'guest MAC = veth MAC');
      assert.equal(n.network?.ip, `198.18.1.${i + 2}`);
      assert.equal(n.network?.gateway, GW);
      assert.equal(n.network?.prefix, 24);
    });
    assert.equal(vm.config.network, 'e2e');
    assert.deepEqual(vm.config.publish, [{ host_port: 8080, container_port: 80, protocol: 'tcp' }]);
    assert.equal(vm.config.egress?.mode, 'deny');
    assert.match(vm.boot.cmdline, / net\.ifnames=0 ip=198\.18\.1\.2::198\.18\.1\.1:255\.255\.255\.0:[^:]+:eth0:off:8\.8\.8\.8:1\.1\.1\.1 ip=198\.18\.1\.3::/);
    const argv = z.array(z.string()).parse(JSON.parse(await cocoon(['vm', 'debug', '--format', 'json', VM])));
    assert.deepEqual(argv.slice(0, 3), ['nsenter', `--net=/var/run/netns/${ns}`, '--']);
    assert.ok(argv.includes(`tap,id=net0,ifname=${nics[0]?.tap},script=no,downscript=no,vnet_hdr=on,vhost=off,queues=2`), argv.join(' '));
    assert.ok(argv.some((a) => a.startsWith(`virtio-net-pci,netdev=net1,mac=${nics[1]?.mac},mq=on`)));
    assert.equal((await cocoon(['net', 'check', vm.id])).trim(), vm.id, 'CNI CHECK passes and every piece is in place');
  });

  it('wires TAP and veth as specified: vnet_hdr multi-queue TAP with the veth MTU, no veth address, u32 + mirred both ways', async () => {
    const ns = `cocoon-${vm.id}`;
    const inside = await links(ns);
    for (const i of [0, 1]) {
      const veth = inside.find((l) => l.ifname === `eth${i}`);
      const tap = inside.find((l) => l.ifname === `tap${vm.id.slice(0, 8)}-${i}`);
      assert.ok(veth && tap);
      assert.equal(tap.mtu, veth.mtu);
      assert.deepEqual(tap.linkinfo?.info_data && { type: tap.linkinfo.info_data.type, vnet_hdr: tap.linkinfo.info_data.vnet_hdr, multi_queue: tap.linkinfo.info_data.multi_queue }, { type: 'tap', vnet_hdr: true, multi_queue: true });
      const addrs = JSON.parse(await ip('-n', ns, '-j', 'addr', 'show', 'dev', `eth${i}`)) as Array<{ addr_info: Array<{ family: string }> }>;
      assert.deepEqual(addrs[0]?.addr_info.filter((a) => a.family === 'inet'), [], 'the veth keeps no IPv4 address');
      const vethFilters = (await execa('tc', ['-n', ns, '-j', 'filter', 'show', 'dev', `eth${i}`, 'ingress'])).stdout;
      assert.match(vethFilters, new RegExp(`"kind":"u32".*"mirred_action":"redirect","direction":"egress","to_dev":"${tap.ifname}"`));
      const tapFilters = (await execa('tc', ['-n', ns, '-j', 'filter', 'show', 'dev', tap.ifname, 'ingress'])).stdout;
      assert.match(tapFilters, /"protocol":"arp","pref":1,"kind":"u32"/, 'ARP always passes');
      assert.match(tapFilters, new RegExp(`"to_dev":"eth${i}"`));
      assert.doesNotMatch(tapFilters, /"protocol":"all"/, 'under --egress deny there is no match-all redirect');
    }
  });

  it('configures every NIC in the guest (address, MAC, one default route, resolv.conf) and answers ping from the bridge side', async () => {
    const r = await guest(VM, 'ip -4 -o addr show dev eth0; ip -4 -o addr show dev eth1; cat /sys/class/net/eth0/address /sys/class/net/eth1/address; ip route show default; cat /etc/resolv.conf');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /eth0\s+inet 198\.18\.1\.2\/24/);
    assert.match(r.stdout, /eth1\s+inet 198\.18\.1\.3\/24/);
    for (const n of vm.network_configs ?? []) assert.ok(r.stdout.includes(n.mac), `guest has MAC ${n.mac}`);
    assert.match(r.stdout, /^default via 198\.18\.1\.1 dev eth0/m);
    assert.match(r.stdout, /\nnameserver 8\.8\.8\.8\nnameserver 1\.1\.1\.1$/, 'each server once');
    for (const addr of ['198.18.1.2', '198.18.1.3']) assert.equal((await ping(H, addr)).code, 0, `ping ${addr}`);
  });

  it('publishes guest port 80 as host port 8080 (portmap): a client in another namespace reaches httpd in the guest', async () => {
    const r = await guest(VM, 'mkdir -p /tmp/www && echo hello-from-the-guest >/tmp/www/index.html && setsid httpd -p 80 -h /tmp/www </dev/null >/dev/null 2>&1');
    assert.equal(r.code, 0, r.stderr);
    // NOTE: busybox nc as the HTTP client (Debian's static busybox wget crashes on this host).
    const got = await inNs(A_NS, ['busybox', 'nc', '-w', '20', '198.18.2.1', '8080'], { input: 'GET / HTTP/1.0\r\n\r\n' });
    assert.match(got.stdout, /^HTTP\/1\.[01] 200 OK/);
    assert.match(got.stdout, /\r\n\r\nhello-from-the-guest$/);
  });

  it('enforces --egress deny in the TC path: A (allowed) is reached, B is not', async () => {
    assert.equal((await ping(H, B)).code, 0, 'B itself is reachable from the host side');
    const atA = listen(A_NS, 7000);
    const atB = listen(B_NS, 7000);
    await new Promise((r) => setTimeout(r, 500));
    const toA = await guest(VM, `echo through-the-policy | nc -w 10 ${A} 7000`);
    assert.equal(toA.code, 0, toA.stderr);
    assert.equal(String((await atA).stdout).trim(), 'through-the-policy');
    const toB = await guest(VM, `echo must-not-arrive | nc -w 5 ${B} 7000`);
    assert.notEqual(toB.code, 0, 'the connection to B fails');
    atB.kill();
    assert.equal(String((await atB).stdout), '', 'nothing reached B');
  });

  it('starts again with the same IPs and MACs after its netns was deleted by hand', async () => {
    await cocoon(['vm', 'stop', VM]);
    await ip('netns', 'del', `cocoon-${vm.id}`);
    const broken = await cocoonIn(H, ['net', 'check', vm.id], netEnv);
    assert.equal(broken.code, 10);
    assert.match(broken.stderr, /netns \/var\/run\/netns\/cocoon-[0-9a-f]+ is gone/);
    await cocoon(['vm', 'start', '--wait', '--wait-timeout', '180', VM]);
    const again = await inspect(VM);
    assert.deepEqual(again.network_configs?.map((n) => [n.mac, n.network?.ip]), vm.network_configs?.map((n) => [n.mac, n.network?.ip]));
    assert.ok((await netnsList()).includes(`cocoon-${vm.id}`));
    assert.equal((await ping(H, '198.18.1.2')).code, 0);
    assert.deepEqual(leases().sort(), ['198.18.1.2', '198.18.1.3']);
  });

  it('vm rm leaves no netns, veth, TAP, IPAM lease, portmap rule or network record', async () => {
    await cocoon(['vm', 'rm', '--force', VM]);
    assert.equal((await netnsList()).includes(`cocoon-${vm.id}`), false);
    assert.deepEqual((await links(H)).map((l) => l.ifname).filter((n) => n.startsWith('veth')), [], 'no veth left on the bridge');
    assert.deepEqual(leases(), []);
    assert.doesNotMatch((await inNs(H, ['iptables', '-t', 'nat', '-S'])).stdout, /CNI-DN-/);
    assert.deepEqual(z.array(NetRecordSchema).parse(JSON.parse(await cocoon(['net', 'list', '-o', 'json']))), []);
  });

  it('bridge mode: a TAP on an existing host bridge, a random local MAC, the guest gets its address by DHCP', async () => {
    await ip('-n', H, 'link', 'add', 'brx', 'type', 'bridge');
    await ip('-n', H, 'addr', 'add', '198.18.4.1/24', 'dev', 'brx');
    await ip('-n', H, 'link', 'set', 'brx', 'up');
    writeFileSync(join(scratch, 'udhcpd.conf'), `start 198.18.4.100\nend 198.18.4.150\ninterface brx\nlease_file ${join(scratch, 'udhcpd.leases')}\noption subnet 255.255.255.0\noption router 198.18.4.1\noption dns 198.18.4.1\n`);
    writeFileSync(join(scratch, 'udhcpd.leases'), '');
    listeners.push(execa('ip', ['netns', 'exec', H, 'busybox', 'udhcpd', '-f', join(scratch, 'udhcpd.conf')], { reject: false }));
    await cocoon(['vm', 'run', '--wait', '--wait-timeout', '180', '--name', BVM, '--bridge', 'brx', '--cpu', '1', '--memory', '512M', '--storage', '1G', 'default']);
    const b = await inspect(BVM);
    const [nic] = b.network_configs ?? [];
    assert.equal(nic?.backend, 'bridge');
    assert.equal(nic?.bridge_dev, 'brx');
    assert.equal(nic?.tap, `bt${b.id.slice(0, 8)}-0`);
    assert.equal(nic?.network, undefined, 'a DHCP NIC has no static address');
    assert.equal(Number.parseInt(nic?.mac.slice(0, 2) ?? '0', 16) & 0x03, 0x02, 'locally administered, unicast');
    assert.equal((await links(H)).find((l) => l.ifname === nic?.tap)?.master, 'brx');
    let addr = '';
    for (let i = 0; i < 60 && !addr; i++) {
      addr = /inet (198\.18\.4\.\d+)\//.exec((await guest(BVM, 'ip -4 -o addr show dev eth0')).stdout)?.[1] ?? '';
      if (!addr) await new Promise((r) => setTimeout(r, 1000));
    }
    assert.ok(addr, 'the guest got a DHCP lease on eth0');
    assert.equal((await ping(H, addr)).code, 0, `ping ${addr}`);
    await cocoon(['vm', 'rm', '--force', BVM]);
    assert.equal((await links(H)).some((l) => l.ifname === nic?.tap), false, 'the TAP is gone');
  });

  it('--egress allow with a rule: everything but the rule is reached (A yes, B no)', async () => {
    await cocoon(['vm', 'run', '--wait', '--wait-timeout', '180', '--name', AVM, '--cpu', '1', '--memory', '512M', '--storage', '1G', '--egress', 'allow', '--egress-rule', `${B}/32`, 'default']);
    assert.deepEqual((await inspect(AVM)).config.egress, { mode: 'allow', rules: [{ cidr: `${B}/32` }] });
    const atA = listen(A_NS, 7001);
    const atB = listen(B_NS, 7001);
    await new Promise((r) => setTimeout(r, 500));
    const toA = await guest(AVM, `echo allowed | nc -w 10 ${A} 7001`);
    assert.equal(toA.code, 0, toA.stderr);
    assert.equal(String((await atA).stdout).trim(), 'allowed');
    const toB = await guest(AVM, `echo denied | nc -w 5 ${B} 7001`);
    assert.notEqual(toB.code, 0, 'the connection to the denied address fails');
    atB.kill();
    assert.equal(String((await atB).stdout), '', 'nothing reached B');
    await cocoon(['vm', 'rm', '--force', AVM]);
  });
});
