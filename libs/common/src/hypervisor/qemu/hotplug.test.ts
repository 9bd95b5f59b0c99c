/**
 * Room to grow a QEMU VM live: the command line a launch with room gets (and one without keeps),
 * and, with a REAL QEMU (TCG, no kernel: it idles in its BIOS), that vCPUs and a DIMM plugged
 * live are re-created by a later launch's command line exactly enough for the saved state to load.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { z } from 'zod';
import { testLaunchSpec } from '../../testing/launch-spec.ts';
import type { NetworkConfig } from '../../schemas/vm.ts';
import type { LaunchSpec } from '../index.ts';
import { qemuCommandLine } from './args.ts';
import { plugQemu } from './grow.ts';
import { HOTPLUG_KERNEL_ARGS, MAX_CPU_ROOM, qemuHeadroom } from './hotplug.ts';
import { QemuDriver } from './index.ts';
import { saveQemuState, withQmp } from './snapshot.ts';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const nic = (i: number): NetworkConfig => ({ tap: `tapa-${i}`, mac: `02:00:00:00:00:0${i}`, num_queues: 2, queue_size: 512, backend: 'cni' });
const withRoom = (over: Partial<LaunchSpec> = {}): LaunchSpec => {
  const spec = testLaunchSpec(over);
  return { ...spec, tuning: { ...spec.tuning, hotplug: qemuHeadroom(spec, 24 * GiB - 5, 4) } };
};
const argAfter = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

describe('QEMU room to grow: the command line', () => {
  it('reserves vCPUs up to the host cores (at most 16), memory up to the host RAM, DIMM slots and 8 spare ports', () => {
    const h = qemuHeadroom(testLaunchSpec({ cpu: 2, memory: 256 * MiB, nics: [nic(0)] }), 24 * GiB - 5, 64);
    assert.deepEqual(h, { max_cpu: MAX_CPU_ROOM, max_memory: 24 * GiB, slots: 8, ports: 8, cpus: [], dimms: [], nics: 0 });
    assert.equal(qemuHeadroom(testLaunchSpec({ cpu: 4 }), GiB, 2).max_cpu, 4, 'never fewer than the VM has');
    const fw = qemuHeadroom(testLaunchSpec({ kernel: null, firmware: '/fw.fd', memory: 512 * MiB }), 24 * GiB, 2);
    assert.deepEqual([fw.max_memory, fw.slots], [512 * MiB, 0], 'a firmware boot gets no memory room (its kernel would pay 64 MiB of SWIOTLB)');
    assert.equal(qemuHeadroom(testLaunchSpec({ nics: Array.from({ length: 12 }, (_, i) => nic(i)) }), GiB, 2).ports, 4, 'never past 16 NICs');
  });

  it('launches with maxcpus, slots/maxmem, the kernel parameters and the ports before the NICs', () => {
    const args = qemuCommandLine(withRoom({ nics: [nic(0)] })).args;
    assert.equal(argAfter(args, '-smp'), '1,maxcpus=4');
    assert.equal(argAfter(args, '-m'), '512M,slots=8,maxmem=24576M');
    assert.ok(argAfter(args, '-append')?.endsWith(` ${HOTPLUG_KERNEL_ARGS}`));
    const ports = args.filter((a) => a.startsWith('pcie-root-port,'));
    assert.equal(ports.length, 8);
    assert.equal(ports[0], 'pcie-root-port,id=hp0,bus=pcie.0,addr=0x1e.0,multifunction=on,chassis=1');
    assert.ok(args.indexOf(ports[7] as string) < args.findIndex((a) => a.startsWith('virtio-net-pci')), 'ports exist before a NIC is put on one');
    assert.ok(args.includes('virtio-net-pci,netdev=net0,mac=02:00:00:00:00:00,rx_queue_size=512,tx_queue_size=512'), 'the launch\'s NIC stays on the root bus');
  });

  it('re-creates what was added live: vCPUs by topology, DIMMs by size, NICs on their ports', () => {
    const spec = withRoom({ nics: [nic(0), nic(1)] });
    const hotplug = { ...spec.tuning.hotplug!, cpus: [{ 'socket-id': 0, 'core-id': 1, 'thread-id': 0 }], dimms: [256 * MiB], nics: 1 };
    const args = qemuCommandLine({ ...spec, tuning: { ...spec.tuning, hotplug } }).args;
    assert.ok(args.includes('max-x86_64-cpu,id=cpu-hp0,socket-id=0,core-id=1,thread-id=0'));
    assert.ok(args.includes(`memory-backend-ram,id=dimm0-mem,size=${256 * MiB}`));
    assert.ok(args.includes('pc-dimm,id=dimm0,memdev=dimm0-mem'));
    assert.ok(args.includes('virtio-net-pci,netdev=net1,mac=02:00:00:00:00:01,rx_queue_size=512,tx_queue_size=512,id=nic1,bus=hp0'));
  });

  it('leaves a launch without room as it always was (snapshots of such VMs still load)', () => {
    const args = qemuCommandLine(testLaunchSpec()).args;
    assert.equal(argAfter(args, '-smp'), '1');
    assert.equal(argAfter(args, '-m'), '512M');
    assert.ok(!args.some((a) => a.startsWith('pcie-root-port') || a.includes('swiotlb')));
  });
});

describe('QEMU room to grow: a real QEMU', () => {
  const root = mkdtempSync(join(tmpdir(), 'cocoon-hotplug-'));
  const driver = new QemuDriver();
  const pids: number[] = [];
  after(async () => {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(root, { recursive: true, force: true });
  });
  // The room of a direct kernel boot (memory too), on a QEMU that has no kernel to boot.
  const bios = (over: Partial<LaunchSpec> = {}) => ({ ...withRoom({ memory: 256 * MiB }), kernel: null, initrd: null, disks: [], nics: [], vsockCid: null, ...over });

  it('plugs vCPUs and a DIMM live; a launch with them on its command line loads the saved state, one without cannot', async () => {
    const spec = testLaunchSpec({}, root);
    const src = bios({ paths: spec.paths });
    const { pid } = await driver.start(src, 30_000);
    pids.push(pid);
    const { hotplug } = await plugQemu(src, { cpu: 3, memory: 512 * MiB, nics: [] });
    assert.equal(hotplug.cpus.length, 2);
    assert.deepEqual(hotplug.dimms, [256 * MiB]);
    const cpus = z.array(z.looseObject({ 'qom-path': z.string().optional() })).parse(await withQmp(src.paths, (q) => q.execute('query-hotpluggable-cpus')));
    assert.equal(cpus.filter((c) => c['qom-path']).length, 3, 'QEMU runs 3 vCPUs');
    await driver.pause(src.paths);
    const dir = join(root, 'saved');
    await import('node:fs/promises').then((fs) => fs.mkdir(dir));
    const saved = await saveQemuState(src.paths, dir, 60_000);
    await driver.stop(src.paths, pid, { timeoutMs: 0, force: true });

    const grown = { ...src, tuning: { ...src.tuning, hotplug } };
    const bare = await driver.restore(src, { dir, stateFile: saved.stateFile, timeoutMs: 30_000 }).then(
      (r) => (pids.push(r.pid), r),
      (err: Error) => err,
    );
    assert.ok(bare instanceof Error, 'the saved state needs the plugged devices');
    const back = await driver.restore(grown, { dir, stateFile: saved.stateFile, timeoutMs: 30_000 });
    pids.push(back.pid);
    assert.equal(await driver.isPaused(grown.paths), true, 'loaded, paused');
    const mem = z.array(z.looseObject({ data: z.looseObject({ id: z.string(), size: z.number() }) })).parse(await withQmp(grown.paths, (q) => q.execute('query-memory-devices')));
    assert.deepEqual(mem.map((m) => [m.data.id, m.data.size]), [['dimm0', 256 * MiB]]);
    await driver.stop(grown.paths, back.pid, { timeoutMs: 0, force: true });
  });
});
