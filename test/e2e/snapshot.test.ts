/**
 * Snapshots end to end on QEMU/TCG with the default guest: ONE source VM (it writes a
 * marker), ONE saved snapshot, and clones of it. Covers pause/resume, save, clone --count 3
 * (marker, own hostname, machine id and /dev/urandom after reseed), fork, restore (rewinds;
 * a damaged snapshot leaves the VM running), export | import through a pipe then clone,
 * GNU tar of an export (bit-identical, still sparse), a Go-format archive of an unavailable
 * hypervisor, and the bad inputs: a stopped VM, a taken name, shrinking, another VM's
 * snapshot, a full disk during save, and SIGKILL of a save (the VM is resumed, nothing left).
 * A second suite clones a VM with a NIC inside a namespace playing the host (`csn-…`, with a
 * real CNI bridge + host-local conflist): each clone answers ping on its own new IP; a clone
 * grown live (--cpu 2 --memory 512M --nics 2) shows them in the guest (nproc, MemTotal, both
 * addresses answering), and a shrink or growth beyond the room is exit 2 with nothing left.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { z } from 'zod';
import { SnapshotRecordSchema } from '@cocoon/common/schemas/snapshot';
import { VmRecordSchema } from '@cocoon/common/schemas/vm';
import { BIN, cocoon, ensureDefaultImage, env, ok, requireTools } from '../helpers/cocoon.ts';
import { addNs, cocoonIn, delNs, inNs, links, netnsList, okIn, writeConflist } from '../helpers/netns.ts';
import { startRegistry, TEST_USER } from '../helpers/registry.ts';

const SRC = `snap-src-${process.pid}`;
const scratch = mkdtempSync(join(tmpdir(), 'cocoon-snap-e2e-'));
const made: string[] = [];
const snaps = join(env.COCOON_ROOT_DIR, 'snapshots');

const vm = async (ref: string) => VmRecordSchema.parse(JSON.parse(await ok(['vm', 'inspect', ref])));
const sh = (ref: string, script: string) => ok(['vm', 'exec', ref, '--', 'sh', '-c', script]);

async function bootSource(): Promise<void> {
  await ok(['vm', 'run', '--name', SRC, '--nics', '0', '--memory', '256M', '--storage', '1G', '--wait', '--wait-timeout', '180', 'default']);
}

describe('snapshots, clones, fork, restore, export/import (QEMU)', () => {
  before(async () => {
    requireTools();
    await ensureDefaultImage();
    await bootSource();
    // An e2e root from before the reseed frame: rebuild the guest (agent + machine id) once.
    if ((await cocoon(['vm', 'exec', SRC, '--', 'test', '-f', '/etc/machine-id'])).code !== 0) {
      await ok(['vm', 'rm', '--force', SRC]);
      await ok(['image', 'build-default', '--force'], { timeoutMs: 900_000 });
      await bootSource();
    }
    await sh(SRC, 'echo "marker $$" > /marker && sync');
  });
  after(async () => {
    for (const ref of [...made, SRC]) await cocoon(['vm', 'rm', '--force', ref]);
    for (const s of ['base', 'piped', 'damaged', 'go-ch', 'killed', 'full', 'pulled']) await cocoon(['snapshot', 'rm', s]);
    rmSync(scratch, { recursive: true, force: true });
  });

  it('pauses and resumes (paused in inspect, exec refused while paused)', async () => {
    await ok(['vm', 'pause', SRC]);
    assert.equal((await vm(SRC)).state, 'paused');
    const refused = await cocoon(['vm', 'exec', SRC, '--', 'true']);
    assert.equal(refused.code, 6);
    assert.match(refused.stderr, /paused/);
    await ok(['vm', 'resume', SRC]);
    assert.equal((await vm(SRC)).state, 'running');
    assert.match(await sh(SRC, 'cat /marker'), /^marker \d+/);
  });

  it('saves a running VM; a stopped VM and a taken name are refused', async () => {
    const s = SnapshotRecordSchema.parse(JSON.parse(await ok(['snapshot', 'save', '--name', 'base', '--description', 'e2e', '-o', 'json', SRC])));
    assert.equal(s.pending, undefined);
    assert.equal(s.hypervisor, 'qemu');
    assert.deepEqual(s.files?.map((f) => f.name), ['cow.raw', 'vmstate.qemu']);
    assert.ok((await vm(SRC)).snapshot_ids?.[s.id], 'the VM lists its snapshot');
    assert.equal((await vm(SRC)).state, 'running');
    const taken = await cocoon(['snapshot', 'save', '--name', 'base', SRC]);
    assert.equal(taken.code, 4);
    assert.match(taken.stderr, /snapshot name "base" already exists/);
    const created = JSON.parse(await ok(['vm', 'create', '-o', 'json', '--nics', '0', '--memory', '128M', '--storage', '64M', 'default'])) as { id: string };
    made.push(created.id);
    const stopped = await cocoon(['snapshot', 'save', created.id]);
    assert.equal(stopped.code, 6);
    assert.match(stopped.stderr, /not running/);
    const list = z.array(SnapshotRecordSchema).parse(JSON.parse(await ok(['snapshot', 'list', '--vm', SRC, '-o', 'json'])));
    assert.deepEqual(list.map((x) => x.name), ['base']);
  });

  it('clone --count 3: the marker, each its own hostname, machine id and random bytes', async () => {
    const clones = z.array(VmRecordSchema).parse(JSON.parse(await ok(['vm', 'clone', '--count', '3', '--name', `c${process.pid}`, '-o', 'json', 'base'])));
    made.push(...clones.map((c) => c.id));
    assert.equal(clones.length, 3);
    const seen = { ids: new Set<string>(), rand: new Set<string>() };
    const marker = await sh(SRC, 'cat /marker');
    for (const c of clones) {
      assert.equal(c.state, 'running');
      assert.equal(await sh(c.id, 'cat /marker'), marker);
      assert.equal((await sh(c.id, 'hostname')).trim(), c.config.name);
      seen.ids.add((await sh(c.id, 'cat /etc/machine-id')).trim());
      seen.rand.add(await sh(c.id, 'head -c 32 /dev/urandom | od -An -tx1'));
    }
    seen.ids.add((await sh(SRC, 'cat /etc/machine-id')).trim());
    assert.equal(seen.ids.size, 4, 'every clone has its own machine id');
    assert.equal(seen.rand.size, 3, 'the clones read different random bytes');
    const shrink = await cocoon(['vm', 'clone', '--memory', '128M', 'base']);
    assert.equal(shrink.code, 2);
    assert.match(shrink.stderr, /may only grow/);
    const lazy = await cocoon(['vm', 'clone', '--on-demand', 'base']);
    assert.equal(lazy.code, 2);
    assert.match(lazy.stderr, /Cloud Hypervisor/);
  });

  it('forks a running VM: the copy has the marker, the source runs on, no snapshot is left', async () => {
    const [copy] = z.array(z.string()).parse((await ok(['vm', 'fork', SRC])).trim().split('\n'));
    made.push(copy as string);
    assert.equal(await sh(copy as string, 'cat /marker'), await sh(SRC, 'cat /marker'));
    assert.equal((await vm(SRC)).state, 'running');
    const names = z.array(SnapshotRecordSchema).parse(JSON.parse(await ok(['snapshot', 'list', '-o', 'json']))).map((s) => s.name);
    assert.deepEqual(names.filter((n) => n.startsWith('fork-')), []);
  });

  it('restores: a file written after the snapshot disappears; a damaged or foreign snapshot leaves the VM running', async () => {
    await ok(['snapshot', 'save', '--name', 'damaged', SRC]);
    await sh(SRC, 'echo later > /after && sync');
    const damaged = SnapshotRecordSchema.parse(JSON.parse(await ok(['snapshot', 'inspect', 'damaged'])));
    truncateSync(join(snaps, damaged.id, 'vmstate.qemu'), 4096);
    const pid = (await vm(SRC)).pid;
    const bad = await cocoon(['vm', 'restore', SRC, 'damaged']);
    assert.equal(bad.code, 9, bad.stderr);
    assert.equal((await vm(SRC)).pid, pid, 'the same hypervisor runs on');
    assert.equal((await sh(SRC, 'cat /after')).trim(), 'later');
    const foreign = await cocoon(['vm', 'restore', made[made.length - 1] as string, 'base']);
    assert.equal(foreign.code, 2);
    assert.match(foreign.stderr, /not taken of VM/);
    await ok(['vm', 'restore', SRC, 'base']);
    assert.equal((await vm(SRC)).state, 'running');
    assert.equal((await cocoon(['vm', 'exec', SRC, '--', 'test', '-e', '/after'])).code, 1, '/after is gone');
    assert.match(await sh(SRC, 'cat /marker'), /^marker /);
  });

  it('export | import through a pipe, then clone; GNU tar restores the export bit-identical and sparse', async () => {
    await execa('sh', ['-c', '"$1" snapshot export base -o - | "$1" snapshot import --name piped', 'sh', join(BIN, 'cocoon')], { env });
    const clone = JSON.parse(await ok(['vm', 'clone', '-o', 'json', 'piped'])) as { id: string };
    made.push(clone.id);
    assert.match(await sh(clone.id, 'cat /marker'), /^marker /);
    const file = join(scratch, 'base.tar');
    await ok(['snapshot', 'export', 'base', '-o', file]);
    const out = join(scratch, 'x');
    mkdirSync(out);
    execFileSync('tar', ['-C', out, '-xf', file]);
    const base = SnapshotRecordSchema.parse(JSON.parse(await ok(['snapshot', 'inspect', 'base'])));
    execFileSync('cmp', [join(out, 'cow.raw'), join(snaps, base.id, 'cow.raw')]);
    const used = statSync(join(out, 'cow.raw')).blocks * 512;
    assert.ok(used <= statSync(join(snaps, base.id, 'cow.raw')).blocks * 512 * 1.05 + 65536, `restored disk uses ${used} bytes`);
    assert.ok(statSync(file).size < statSync(join(out, 'cow.raw')).size, 'the archive is smaller than the disk\'s apparent size');
  });

  it('push to and pull from a real registry (basic auth), then clone; a second push sends nothing new', async () => {
    const registry = await startRegistry({ auth: 'basic' });
    try {
      const target = `${registry.host}/snapshots/base:v1`;
      const creds = { COCOON_REGISTRY_USERNAME: TEST_USER.username, COCOON_REGISTRY_PASSWORD: TEST_USER.password };
      const Pushed = z.object({ reference: z.string(), digest: z.string(), uploaded: z.number(), skipped: z.number() });
      const first = Pushed.parse(JSON.parse(await ok(['snapshot', 'push', '-o', 'json', 'base', target], { extraEnv: creds })));
      assert.equal(first.uploaded, 3, 'config + cow.raw + vmstate.qemu');
      const again = Pushed.parse(JSON.parse(await ok(['snapshot', 'push', '-o', 'json', 'base', target], { extraEnv: creds })));
      assert.deepEqual([again.uploaded, again.skipped, again.digest], [0, 3, first.digest], 'unchanged blobs are not sent again');
      const denied = await cocoon(['snapshot', 'pull', '--name', 'pulled', target]);
      assert.equal(denied.code, 10, 'no credentials: refused');
      await ok(['snapshot', 'pull', '--name', 'pulled', `${registry.host}/snapshots/base@${first.digest}`], { extraEnv: creds });
      const clone = JSON.parse(await ok(['vm', 'clone', '-o', 'json', 'pulled'])) as { id: string };
      made.push(clone.id);
      assert.match(await sh(clone.id, 'cat /marker'), /^marker /);
    } finally {
      await registry.stop();
    }
  });

  it('refuses to clone a snapshot of a hypervisor this host lacks (a Go-format archive)', async () => {
    const dir = join(scratch, 'go');
    mkdirSync(dir);
    writeFileSync(join(dir, 'snapshot.json'), `${JSON.stringify({ config: { cpu: 1, memory: 268435456, storage: 1073741824, image: 'ghcr.io/cocoonstack/cocoon/ubuntu:24.04', image_digest: `sha256:${'a'.repeat(64)}`, image_type: 'oci', id: 'b'.repeat(32), name: 'go-ch', hypervisor: 'cloud-hypervisor', nics: 0 }, version: 1 }, null, 2)}\n`);
    writeFileSync(join(dir, 'state.json'), '{}');
    execFileSync('tar', ['-C', dir, '-cf', join(scratch, 'go.tar'), 'snapshot.json', 'state.json']);
    await ok(['snapshot', 'import', join(scratch, 'go.tar')]);
    const r = await cocoon(['vm', 'clone', 'go-ch']);
    assert.equal(r.code, 8);
    assert.match(r.stderr, /cloud-hypervisor, which is not available on this host/);
  });

  it('a save killed mid-way (SIGKILL) leaves the VM running and no snapshot', async () => {
    const child = execa(join(BIN, 'cocoon-snap'), ['save', '--name', 'killed', SRC], { env, reject: false });
    // Killed once its pending record is written (the VM is being paused and saved then).
    for (let i = 0; i < 2000 && !(existsSync(join(snaps, 'index.json')) && readFileSync(join(snaps, 'index.json'), 'utf8').includes('"killed"')); i++) await sleep(5);
    await sleep(50);
    child.kill('SIGKILL');
    await child;
    for (let i = 0; i < 100 && (await cocoon(['vm', 'exec', SRC, '--', 'true'])).code !== 0; i++) await sleep(100);
    assert.equal((await vm(SRC)).state, 'running');
    assert.match(await sh(SRC, 'cat /marker'), /^marker /, 'the guest runs (resumed by the save guard)');
    const list = z.array(SnapshotRecordSchema).parse(JSON.parse(await ok(['snapshot', 'list', '-o', 'json'])));
    assert.ok(!list.some((s) => s.name === 'killed'));
    assert.equal(readdirSync(snaps).filter((d) => /^[0-9a-f]{32}$/.test(d)).length, list.length, 'no half-made snapshot directory');
  });

  it('a full disk during save: a clear error, the VM resumed, nothing kept', async () => {
    // A private mount namespace with a 16 MiB tmpfs over the snapshot store: the state file cannot fit.
    const r = await execa('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs -o size=16m tmpfs "$1" && exec "$2" snapshot save --name full "$3"', 'sh', snaps, join(BIN, 'cocoon'), SRC], { env, reject: false });
    assert.equal(r.exitCode, 10, String(r.stderr));
    assert.match(String(r.stderr), /no space left on device/);
    assert.equal((await vm(SRC)).state, 'running');
    assert.match(await sh(SRC, 'cat /marker'), /^marker /);
    assert.equal((await cocoon(['snapshot', 'inspect', 'full'])).code, 3);
  });
});

/** Clones of a VM with a NIC: each its own netns, IP and MAC (cocoon-net), reachable on its new IP. */
describe('clones on a network (CNI, in a namespace playing the host)', () => {
  const H = `csn-h-${process.pid}`;
  const NSRC = `snet-src-${process.pid}`;
  const conf = join(scratch, 'cni');
  const netEnv = { COCOON_CNI_CONF_DIR: conf };
  const clones: string[] = [];
  const inH = (args: string[]) => okIn(H, args, netEnv);
  const ping = (addr: string) => inNs(H, ['busybox', 'ping', '-c', '1', '-W', '5', addr], { reject: false });

  before(async () => {
    requireTools();
    await addNs(H);
    writeConflist(conf, { name: 'snap-e2e', bridge: 'csnbr0', subnet: '198.18.32.0/24', portmap: false });
    // One vCPU: a clone can then grow to two even on a 2-core host (the room is the host's cores).
    await inH(['vm', 'run', '--wait', '--wait-timeout', '180', '--name', NSRC, '--cpu', '1', '--nics', '1', '--memory', '256M', '--storage', '1G', 'default']);
    await inH(['vm', 'exec', NSRC, '--', 'sh', '-c', 'echo net-marker > /marker && sync']);
    await inH(['snapshot', 'save', '--name', `netbase-${process.pid}`, NSRC]);
  });
  after(async () => {
    await cocoonIn(H, ['vm', 'rm', '--force', NSRC, ...clones], netEnv);
    await cocoonIn(H, ['snapshot', 'rm', `netbase-${process.pid}`], netEnv);
    await delNs(H);
  });

  it('clone --count 2: a fresh IP and MAC each, configured in the guest, answering ping from the host side', async () => {
    const src = VmRecordSchema.parse(JSON.parse(await inH(['vm', 'inspect', NSRC])));
    const made = z.array(VmRecordSchema).parse(JSON.parse(await inH(['vm', 'clone', '--count', '2', '-o', 'json', `netbase-${process.pid}`])));
    clones.push(...made.map((c) => c.id));
    const seen = new Set([src.network_configs?.[0]?.network?.ip, src.network_configs?.[0]?.mac]);
    for (const c of made) {
      const nic = c.network_configs?.[0];
      assert.ok(nic?.network?.ip && nic.mac, 'the clone has a NIC of its own');
      assert.ok(!seen.has(nic.network.ip) && !seen.has(nic.mac), `fresh IP and MAC (${nic.network.ip}, ${nic.mac})`);
      seen.add(nic.network.ip).add(nic.mac);
      assert.notEqual(nic.tap, src.network_configs?.[0]?.tap, 'its own TAP');
      const inGuest = await inH(['vm', 'exec', c.id, '--', 'sh', '-c', 'cat /marker; hostname; cat /sys/class/net/eth0/address; ip -4 -o addr show dev eth0']);
      const [marker, host, mac, addr] = inGuest.trim().split('\n');
      assert.equal(marker, 'net-marker');
      assert.equal(host, c.config.name);
      assert.equal(mac, nic.mac);
      assert.match(addr ?? '', new RegExp(`inet ${nic.network.ip.replaceAll('.', '\\.')}/24`));
      assert.doesNotMatch(addr ?? '', new RegExp(`inet ${src.network_configs?.[0]?.network?.ip?.replaceAll('.', '\\.')}/`), 'the old address is gone');
      assert.equal((await ping(nic.network.ip)).code, 0, `ping ${nic.network.ip}`);
    }
    assert.equal((await ping(src.network_configs?.[0]?.network?.ip ?? '')).code, 0, 'the source still answers on its own IP');
  });

  it('clone --cpu 2 --memory 512M --nics 2: the guest sees the added vCPU, memory and NIC, on its own new IP', async () => {
    const src = VmRecordSchema.parse(JSON.parse(await inH(['vm', 'inspect', NSRC])));
    const c = VmRecordSchema.parse(JSON.parse(await inH(['vm', 'clone', '--cpu', '2', '--memory', '512M', '--nics', '2', '-o', 'json', `netbase-${process.pid}`])));
    clones.push(c.id);
    assert.deepEqual([c.config.cpu, c.config.memory, c.network_configs?.length], [2, 512 * 2 ** 20, 2]);
    assert.deepEqual([c.tuning?.hotplug?.cpus.length, c.tuning?.hotplug?.dimms, c.tuning?.hotplug?.nics], [1, [256 * 2 ** 20], 1], 'what was added live is recorded');
    const memTotal = async (ref: string) => Number(/MemTotal:\s+(\d+) kB/.exec(await inH(['vm', 'exec', ref, '--', 'cat', '/proc/meminfo']))?.[1]);
    const [before, after] = [await memTotal(NSRC), await memTotal(c.id)];
    assert.ok(after - before >= 250 * 1024, `the guest's memory grew by 256 MiB (MemTotal ${before} → ${after} kB)`);
    assert.equal((await inH(['vm', 'exec', c.id, '--', 'nproc'])).trim(), '2');
    const addrs = await inH(['vm', 'exec', c.id, '--', 'ip', '-4', '-o', 'addr', 'show']);
    for (const nic of c.network_configs ?? []) {
      const ip = nic.network?.ip ?? '';
      assert.match(addrs, new RegExp(`inet ${ip.replaceAll('.', '\\.')}/24`), `the guest has ${ip}`);
      assert.equal((await ping(ip)).code, 0, `ping ${ip}`);
    }
    assert.doesNotMatch(addrs, new RegExp(`inet ${src.network_configs?.[0]?.network?.ip?.replaceAll('.', '\\.')}/`), 'the source\'s address is gone');
  });

  it('a shrink, growth beyond the launch\'s room or in part of a memory step is a usage error (2) that leaves nothing behind', async () => {
    const state = async () => ({
      vms: z.array(VmRecordSchema).parse(JSON.parse(await inH(['vm', 'ls', '-o', 'json']))).map((v) => v.id).sort(),
      runDirs: readdirSync(env.COCOON_RUN_DIR).sort(),
      netns: (await netnsList()).sort(),
      links: (await links(H)).map((l) => l.ifname).sort(),
    });
    const before = await state();
    const src = VmRecordSchema.parse(JSON.parse(await inH(['vm', 'inspect', NSRC])));
    const room = src.tuning?.hotplug;
    assert.ok(room, 'the source was launched with room to grow');
    for (const [args, message] of [
      [['--memory', '128M'], /--memory: 128M is less than the snapshot's 256M: a VM from a snapshot may only grow/],
      [['--cpu', String(room.max_cpu + 1)], /--cpu: \d+ is more than the \d+ the VM of snapshot .* was launched with room for/],
      [['--memory', '300M'], /memory grows in steps of 128M/],
    ] as const) {
      const r = await cocoonIn(H, ['vm', 'clone', '--nics', '2', ...args, `netbase-${process.pid}`], netEnv);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, 'one line on stderr');
    }
    assert.deepEqual(await state(), before, 'no VM record, run folder, netns or TAP was made');
  });
});
