/**
 * Host tuning and data disks for real on QEMU (TCG): one booted default guest shows the
 * balloon and watchdog devices, two virtio-blk queues per disk, the data disk mounted by the
 * guest init (`cocoon.data=`), O_DIRECT on QEMU's writable disk files, and the tuning in
 * `vm inspect`; a file written to the data disk survives stop/start, is seen by a clone (on
 * the clone's own copy of the disk) and is rewound by a restore.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { SnapshotRecordSchema } from '@cocoon/common/schemas/snapshot';
import { VmInspectSchema, VmRecordSchema } from '@cocoon/common/schemas/vm';
import { cocoon, ensureDefaultImage, ok, requireTools } from '../helpers/cocoon.ts';

const name = `tune-${process.pid}`;
const snapshot = `tune-snap-${process.pid}`;
const clones: string[] = [];
const exec = async (cmd: string, vm = name) => ok(['vm', 'exec', vm, '--', 'sh', '-c', cmd]);
const O_DIRECT = 0o40000;

describe('QEMU host tuning and data disks', () => {
  before(async () => {
    requireTools();
    await ensureDefaultImage();
  });
  // NOTE: the VM goes also when an assertion fails, so later suites find the root clean.
  after(async () => {
    await cocoon(['vm', 'rm', '--force', name, ...clones]);
    await cocoon(['snapshot', 'rm', snapshot]);
  });

  it('boots with balloon, watchdog, multi-queue disks and a mounted data disk that survives stop/start', async () => {
    await ok(['vm', 'run', '--nics', '0', '--wait', '--name', name, '--cpu', '2', '-m', '512M', '--storage', '1G', '--data-disk', 'size=64M,name=logs', 'default']);
    const vm = VmInspectSchema.parse(JSON.parse(await ok(['vm', 'inspect', name])));
    const { hotplug, ...tuning } = vm.tuning ?? {};
    assert.deepEqual(tuning, { hugepages: false, balloon: 128 * 2 ** 20, watchdog: true, disk_queue_size: 512, queue_size: 512, direct_io: true, hyperv: false });
    // The room every QEMU launch reserves to grow a clone live: nothing added yet.
    assert.deepEqual([hotplug?.cpus, hotplug?.dimms, hotplug?.nics, hotplug?.slots], [[], [], 0, 8]);
    assert.ok((hotplug?.max_cpu ?? 0) >= 2, `room for at least the VM's own vCPUs: ${hotplug?.max_cpu}`);
    assert.deepEqual(vm.storage_configs.filter((d) => d.role === 'data').map((d) => [d.serial, d.mount_point, d.fstype]), [['cocoon-data-logs', '/mnt/logs', 'ext4']]);

    // The guest sees the devices: virtio device 5 is the balloon; 8086:25ab is the i6300esb.
    assert.match(await exec('cat /sys/bus/virtio/devices/*/device'), /^0x0005$/m, 'virtio balloon');
    assert.match(await exec('cat /sys/bus/pci/devices/*/device'), /^0x25ab$/m, 'i6300esb watchdog');
    const queues = (await exec('for b in /sys/block/vd*; do echo "$(cat $b/serial) $(ls $b/mq | wc -l)"; done')).trim().split('\n');
    assert.ok(queues.every((l) => l.endsWith(' 2')), `two queues per disk: ${queues.join(', ')}`);
    assert.match(await exec('grep " /mnt/logs " /proc/mounts'), /ext4/);

    // QEMU opened the writable disks with O_DIRECT, the read-only layers without.
    const fds = readdirSync(`/proc/${vm.pid}/fd`).map((fd) => {
      let target = '';
      try {
        target = readlinkSync(`/proc/${vm.pid}/fd/${fd}`);
      } catch {
        // closed meanwhile
      }
      return { target, flags: Number.parseInt(/flags:\s+(\d+)/.exec(readFileSync(`/proc/${vm.pid}/fdinfo/${fd}`, 'utf8'))?.[1] ?? '0', 8) };
    });
    for (const file of ['cow.raw', 'data-logs.raw']) {
      const open = fds.filter((f) => f.target.endsWith(`/${file}`));
      assert.ok(open.length > 0 && open.every((f) => (f.flags & O_DIRECT) !== 0), `${file} opened with O_DIRECT`);
    }
    assert.ok(fds.filter((f) => f.target.endsWith('.erofs')).every((f) => (f.flags & O_DIRECT) === 0), 'layers use the page cache');

    await exec('echo kept-across-restart > /mnt/logs/proof && sync');
    await ok(['vm', 'stop', '--timeout', '60', name]);
    await ok(['vm', 'start', '--wait', name]);
    assert.equal((await exec('cat /mnt/logs/proof')).trim(), 'kept-across-restart');
  });

  it('carries the data disk through a snapshot: a clone sees its files on its own copy, a restore rewinds it', async () => {
    await exec('echo in-snapshot > /mnt/logs/snap && sync');
    const snap = SnapshotRecordSchema.parse(JSON.parse(await ok(['snapshot', 'save', '--name', snapshot, '-o', 'json', name])));
    assert.deepEqual(snap.files?.map((f) => f.name).sort(), ['cow.raw', 'data-logs.raw', 'vmstate.qemu'], 'the data disk is one of the saved files');

    const clone = VmRecordSchema.parse(JSON.parse(await ok(['vm', 'clone', '-o', 'json', snapshot])));
    clones.push(clone.id);
    const source = VmRecordSchema.parse(JSON.parse(await ok(['vm', 'inspect', name])));
    const [mine, theirs] = [clone, source].map((v) => v.storage_configs.find((d) => d.role === 'data'));
    assert.equal(mine?.serial, 'cocoon-data-logs');
    assert.equal(mine?.mount_point, '/mnt/logs');
    assert.ok(mine?.path.includes(clone.id) && mine.path !== theirs?.path, `the clone's own copy: ${mine?.path}`);
    assert.equal((await exec('cat /mnt/logs/snap /mnt/logs/proof', clone.id)).trim(), 'in-snapshot\nkept-across-restart');
    await exec('echo clone-only > /mnt/logs/mine && sync', clone.id);
    assert.equal((await cocoon(['vm', 'exec', name, '--', 'test', '-e', '/mnt/logs/mine'])).code, 1, "the source does not see the clone's writes");

    await exec('echo later > /mnt/logs/after && sync');
    await ok(['vm', 'restore', name, snapshot]);
    assert.equal((await cocoon(['vm', 'exec', name, '--', 'test', '-e', '/mnt/logs/after'])).code, 1, 'restore rewound the data disk');
    assert.equal((await exec('cat /mnt/logs/snap')).trim(), 'in-snapshot');
  });
});
