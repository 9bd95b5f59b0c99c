/**
 * Bad network input end to end, inside a host-playing namespace of its own (`cnet-f-<pid>`):
 * every case is one line on stderr with its documented exit code, and leaves no VM record,
 * netns, veth, TAP, IPAM lease or network record. Plugins that fail or print garbage are
 * small scripts beside the real Debian plugins (a fault to inject, not a mock of one).
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { VmInspectSchema } from '@cocoon/common/schemas/vm';
import { BIN, ensureDefaultImage, env, requireTools } from '../helpers/cocoon.ts';
import { addNs, cocoonIn, delNs, links, netnsList, okIn, writeConflist } from '../helpers/netns.ts';

const F = `cnet-f-${process.pid}`;
const scratch = mkdtempSync(join(tmpdir(), 'cocoon-net-faults-'));
const conf = join(scratch, 'conf');
const empty = join(scratch, 'empty');
const bin = join(scratch, 'bin');
const netEnv = { COCOON_CNI_CONF_DIR: conf, COCOON_CNI_BIN_DIR: `${bin}:/usr/lib/cni` };
const bridgePlugin = { type: 'bridge', bridge: 'cnbrf', isGateway: true, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet: '198.18.16.0/24' }]], dataDir: join(conf, 'ipam') } };

function plugin(name: string, script: string): void {
  writeFileSync(join(bin, name), `#!/bin/sh\n${script}\n`);
  chmodSync(join(bin, name), 0o755);
}

/**
 * What a failed command could have left behind, beyond `held` (the VM that holds port 9090):
 * VM records, veths and TAPs in F, IPAM leases, and network records whose VM is gone or ours.
 */
async function leftovers(held: { id: string; veths: string[] } | null): Promise<string[]> {
  const found: string[] = [];
  const vms = JSON.parse((await cocoonIn(F, ['vm', 'list', '-o', 'json'], netEnv)).stdout) as Array<{ id: string; config: { name: string } }>;
  found.push(...vms.filter((v) => v.config.name.startsWith('fault-') && v.id !== held?.id).map((v) => `VM ${v.config.name}`));
  found.push(...(await links(F)).map((l) => l.ifname).filter((n) => (n.startsWith('veth') || n.startsWith('bt')) && !held?.veths.includes(n)));
  for (const net of ['faults', 'failing', 'garbage']) {
    try {
      found.push(...readdirSync(join(conf, 'ipam', net)).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f) && !(held && f === '198.18.16.2')).map((f) => `lease ${f}`));
    } catch {
      // no lease was ever taken on that network
    }
  }
  // Other suites may share the root: only records of our VMs, or of VMs that do not exist, count.
  const records = JSON.parse((await cocoonIn(F, ['net', 'list', '-o', 'json'], netEnv)).stdout) as Array<{ id: string }>;
  const others = new Set(vms.filter((v) => !v.config.name.startsWith('fault-')).map((v) => v.id));
  found.push(...records.filter((r) => r.id !== held?.id && !others.has(r.id)).map((r) => `network record ${r.id.slice(0, 12)}`));
  return found;
}

describe('bad network input leaves nothing behind', () => {
  let netnsBefore: string[];

  before(async () => {
    requireTools();
    await ensureDefaultImage();
    await addNs(F);
    mkdirSync(bin, { recursive: true });
    mkdirSync(empty, { recursive: true });
    writeConflist(conf, { name: 'faults', bridge: 'cnbrf', subnet: '198.18.16.0/24' });
    writeConflist(conf, { name: 'failing', bridge: 'x', subnet: 'x', plugins: [bridgePlugin, { type: 'cnet-fail' }] });
    writeConflist(conf, { name: 'garbage', bridge: 'x', subnet: 'x', plugins: [bridgePlugin, { type: 'cnet-garbage' }] });
    writeConflist(conf, { name: 'missing', bridge: 'x', subnet: 'x', plugins: [{ type: 'cnet-no-such-plugin' }] });
    writeConflist(conf, { name: 'slow', bridge: 'x', subnet: 'x', plugins: [bridgePlugin, { type: 'cnet-slow' }] });
    writeConflist(conf, { name: 'noportmap', bridge: 'cnbrf', subnet: '198.18.16.0/24', portmap: false });
    plugin('cnet-fail', 'cat >/dev/null; echo \'{"cniVersion":"1.0.0","code":11,"msg":"injected failure"}\'; [ "$CNI_COMMAND" = DEL ] && exit 0; exit 1');
    plugin('cnet-slow', `cat >/dev/null; [ "$CNI_COMMAND" = ADD ] || exit 0; echo $$ >${join(scratch, 'slow.pid')}; exec sleep 120`);
    plugin('cnet-garbage', 'cat >/dev/null; [ "$CNI_COMMAND" = ADD ] && echo "this is not JSON"; exit 0');
    symlinkSync('/usr/lib/cni/loopback', join(bin, 'loopback'));
    netnsBefore = (await netnsList()).filter((n) => n.startsWith('cocoon-'));
  });
  after(async () => {
    await cocoonIn(F, ['vm', 'rm', '--force', 'fault-held', 'cloud-seed'], netEnv);
    await cocoonIn(F, ['image', 'rm', '--force', `cloud-seed-${process.pid}`], netEnv);
    await delNs(F);
    rmSync(scratch, { recursive: true, force: true });
  });

  it('refuses each case with one line and its exit code', async () => {
    const heldId = (await okIn(F, ['vm', 'create', '--name', 'fault-held', '-p', '9090:80', '--network', 'faults', '--storage', '256M', 'default'], netEnv)).trim();
    const held = { id: heldId, veths: (await links(F)).map((l) => l.ifname).filter((n) => n.startsWith('veth')) };
    assert.equal(held.veths.length, 1);
    const cases: Array<[string, string[], number, RegExp, Record<string, string>?]> = [
      ['missing conflist', [], 8, /no CNI network configured .*cocoon-doctor check --fix.*--nics 0/, { COCOON_CNI_CONF_DIR: empty }],
      ['unknown --network', ['--network', 'nope'], 3, /network "nope" not found .*available: failing, faults, garbage, missing, noportmap, slow/],
      ['a plugin that exits non-zero', ['--network', 'failing'], 10, /CNI plugin cnet-fail ADD eth0 failed: injected failure \(code 11\)/],
      ['a plugin that prints garbage', ['--network', 'garbage'], 10, /CNI plugin cnet-garbage ADD eth0 printed no valid result: this is not JSON/],
      ['a missing plugin binary', ['--network', 'missing'], 8, /CNI plugin "cnet-no-such-plugin" not found/],
      ['--nics 99', ['--nics', '99'], 2, /--nics: "99" is out of range/],
      ['--bridge naming a non-bridge', ['--bridge', 'lo'], 2, /--bridge: "lo" is not a bridge/],
      ['--bridge naming nothing', ['--bridge', 'nosuchbr'], 2, /--bridge: there is no network device "nosuchbr"/],
      ['--bridge with --network', ['--bridge', 'cnbrf', '--network', 'faults'], 2, /exclude each other/],
      ['malformed -p', ['-p', '8080:99999'], 2, /-p\/--publish: "8080:99999" has a port outside 1-65535/],
      ['-p without portmap', ['--network', 'noportmap', '-p', '8081:80'], 2, /no plugin with the portMappings capability/],
      ['malformed --egress-rule', ['--egress', 'deny', '--egress-rule', '10.0.0.0:http'], 2, /--egress-rule: "10\.0\.0\.0:http" is not of the form/],
      ['a host port another VM publishes', ['--network', 'faults', '-p', '9090:8080'], 4, /host port 9090\/tcp is already published by VM/],
    ];
    for (const [what, flags, code, message, extra] of cases) {
      const r = await cocoonIn(F, ['vm', 'create', '--accel', 'tcg', '--name', `fault-${code}`, '--storage', '256M', ...flags, 'default'], { ...netEnv, ...extra });
      assert.equal(r.code, code, `${what}: ${r.stderr}`);
      assert.match(r.stderr, message, what);
      assert.equal(r.stderr.trim().split('\n').length, 1, `${what}: one line: ${r.stderr}`);
      assert.deepEqual(await leftovers(held), [], `${what}: nothing left behind`);
    }
    await okIn(F, ['vm', 'rm', 'fault-held'], netEnv);
    assert.deepEqual(await leftovers(null), []);
    assert.deepEqual((await netnsList()).filter((n) => n.startsWith('cocoon-') && !netnsBefore.includes(n)), [], 'no per-VM netns left');
  });

  it('gives a cloud-image VM a netplan v2 seed for its NIC and only a hash of --password', async () => {
    const image = `cloud-seed-${process.pid}`;
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', join(scratch, 'base.qcow2'), '256M']);
    await okIn(F, ['image', 'import', image, join(scratch, 'base.qcow2')], netEnv);
    const password = `Pw-${process.pid}-secret`;
    await okIn(F, ['vm', 'create', '--accel', 'tcg', '--name', 'cloud-seed', '--network', 'faults', '--user', 'dev', '--password', password, '--storage', '512M', image], netEnv);
    const vm = VmInspectSchema.parse(JSON.parse(await okIn(F, ['vm', 'inspect', 'cloud-seed'], netEnv)));
    const nic = vm.network_configs?.[0];
    assert.ok(nic?.network?.ip);
    assert.equal(vm.config.user, 'dev');
    const seed = join(vm.runtime.runDir, 'cidata.img');
    const read = async (f: string) => String((await execa('mcopy', ['-n', '-i', seed, `::/${f}`, '-'])).stdout);
    const netplan = await read('network-config');
    assert.match(netplan, new RegExp(`macaddress: "?${nic.mac}"?\\n`));
    assert.match(netplan, new RegExp(`- ${nic.network.ip.replaceAll('.', '\\.')}/24\n`));
    assert.match(netplan, /nameservers:\n {6}addresses:\n {8}- 8\.8\.8\.8/);
    const userData = await read('user-data');
    assert.match(userData, /- name: dev\n\s+password: "?\$6\$[^\s"]+"?\n\s+type: hash/);
    const everything = [userData, netplan, await okIn(F, ['vm', 'inspect', 'cloud-seed'], netEnv), await okIn(F, ['vm', 'list', '-o', 'json'], netEnv)];
    assert.equal(everything.some((t) => t.includes(password)), false, 'the password is in no seed file, record or listing');
    for (const dir of [env.COCOON_ROOT_DIR, env.COCOON_LOG_DIR]) {
      assert.equal(String((await execa('grep', ['-rl', password, dir], { reject: false })).stdout), '', `no file under ${dir} holds the password`);
    }
    await okIn(F, ['vm', 'rm', 'cloud-seed'], netEnv);
  });

  it('a cocoon-net killed halfway leaves a networks index record from which `cocoon net del` removes everything', async () => {
    const id = 'cafe0000cafe0000cafe0000cafe0000';
    const request = JSON.stringify({ vm_id: id, nics: 1, cpu: 1, network: 'slow' });
    const child = execa('nsenter', [`--net=/var/run/netns/${F}`, '--', join(BIN, 'cocoon-net'), 'add'], { env: { ...env, ...netEnv }, input: request, reject: false });
    const pidFile = join(scratch, 'slow.pid');
    for (let i = 0; i < 300 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(existsSync(pidFile), 'the slow plugin was reached (bridge ADD done)');
    child.kill('SIGKILL');
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
    await child;
    const rec = JSON.parse(await okIn(F, ['net', 'inspect', id], netEnv)) as { state: string; netns: string; nics: Array<{ if_name: string; tap: string }> };
    assert.equal(rec.state, 'setting-up');
    assert.deepEqual(rec.nics.map((n) => [n.if_name, n.tap]), [['eth0', 'tapcafe0000-0']]);
    assert.ok((await netnsList()).includes(`cocoon-${id}`), 'the killed command left its netns');
    assert.equal(readdirSync(join(conf, 'ipam', 'slow')).filter((f) => /^\d+\./.test(f)).length, 1, 'and a lease');
    assert.equal((await okIn(F, ['net', 'del', id], netEnv)).trim(), id);
    assert.equal((await netnsList()).includes(`cocoon-${id}`), false);
    assert.deepEqual(readdirSync(join(conf, 'ipam', 'slow')).filter((f) => /^\d+\./.test(f)), []);
    assert.deepEqual(await leftovers(null), []);
  });
});
