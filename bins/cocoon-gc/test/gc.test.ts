/**
 * cocoon-gc on real files in a temporary root: what each module removes and, above all, what
 * it must keep (what any index uses, a live VM, work of an import still running, a record
 * still being created, another cocoon root's dirs in a shared log and run dir).
 * Processes are real (stand-ins whose command lines name VM files, as hypervisors do).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { imageIndex } from '@cocoon/common/images/store';
import { vmPaths } from '@cocoon/common/hypervisor/index';
import { processArgv } from '@cocoon/common/hypervisor/process';
import { layoutOf, type Layout } from '@cocoon/common/layout';
import { GcReportSchema } from '@cocoon/common/schemas/gc';
import { ImageRecordSchema } from '@cocoon/common/schemas/image';
import { networksIndex } from '@cocoon/common/net/networks';
import { NetRecordSchema } from '@cocoon/common/schemas/net';
import { SnapshotRecordSchema, type SnapshotRecord } from '@cocoon/common/schemas/snapshot';
import { snapshotDir, snapshotIndex, stagingDir } from '@cocoon/common/snapshots/store';
import { acquireLock } from '@cocoon/common/store/lock';
import { runInProcess } from '@cocoon/common/testing/cli';
import { testId, vmRecord } from '@cocoon/common/testing/fixtures';
import { selfIdentity } from '@cocoon/common/proc';
import { claimVmDirs, vmIndex, vmLockFile } from '@cocoon/common/vms';
import { cli } from '../src/cli.ts';

const base = mkdtempSync(join(tmpdir(), 'cocoon-gc-'));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(base, { recursive: true, force: true });
});

/** Two roots sharing one log dir (as the default /var/log/cocoon is shared). */
const sharedLog = join(base, 'log');
const rootOf = (name: string): Layout => layoutOf({ root_dir: join(base, name), run_dir: join(base, name, 'run'), log_dir: sharedLog });
const A = rootOf('a');
const B = rootOf('b');
/**
 * cocoon-net itself is exercised end to end (test/e2e); here a recording stand-in on PATH
 * shows that gc asks it to tear down exactly the networks of vanished VMs.
 */
const fakeBin = join(base, 'fake-bin');
const netCalls = join(base, 'cocoon-net.calls');
mkdirSync(fakeBin);
writeFileSync(join(fakeBin, 'cocoon-net'), `#!/bin/sh\necho "$@ root=$COCOON_ROOT_DIR" >> ${netCalls}\n`);
chmodSync(join(fakeBin, 'cocoon-net'), 0o755);
const envOf = (l: Layout) => ({ COCOON_ROOT_DIR: l.root, COCOON_RUN_DIR: l.run, COCOON_LOG_DIR: l.log, COCOON_LOG_MAX_SIZE: '4096', COCOON_LOG_MAX_FILES: '2', PATH: `${fakeBin}:${process.env.PATH}` });
const gc = (l: Layout, ...argv: string[]) => runInProcess(cli, 'cocoon-gc', argv, envOf(l));
const gcJson = async (l: Layout, ...argv: string[]) => {
  const r = await gc(l, '--format', 'json', ...argv);
  assert.equal(r.code, 0, r.stderr);
  return GcReportSchema.parse(JSON.parse(r.stdout));
};

const hex = (c: string) => c.repeat(64);
function file(path: string, bytes = 8192): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, Buffer.alloc(bytes, 1));
  return path;
}
/** A live process whose argv names `marker` (what gc and the QEMU driver look for). */
function sleeper(marker: string): ChildProcess {
  const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e6)', marker], { stdio: 'ignore' });
  children.push(c);
  return c;
}
async function deadPid(): Promise<number> {
  const c = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => c.on('exit', r));
  return c.pid!;
}

const blob = (l: Layout, c: string, ext = 'erofs') => join(l.images.blobs, `${hex(c)}.${ext}`);
const boot = (l: Layout, c: string) => join(l.images.boot, hex(c));

describe('cocoon-gc', () => {
  const ids = { running: testId(), dead: testId(), busy: testId(), orphan: testId(), foreign: testId(), lockOnly: testId(), netOnly: testId() };
  let importer: ChildProcess;
  let leftover: ChildProcess;
  let liveVm: ChildProcess;

  before(async () => {
    // Images: layer a is an image's; c only a VM's disk (its image was removed); b and d nobody's.
    await imageIndex(A).update((items) => {
      const rec = ImageRecordSchema.parse({
        id: testId(), name: 'img', kind: 'oci', digest: `sha256:${hex('9')}`, source: 'x', platform: null,
        layers: [{ digest: `sha256:${hex('a')}`, diff_id: null, media_type: 'm', size: 1 }], boot: null, config: null, size: 1, created_at: new Date().toISOString(),
      });
      items.set(rec.id, rec);
    });
    for (const c of ['a', 'b', 'c']) file(blob(A, c));
    file(join(boot(A, 'a'), 'vmlinuz'));
    file(join(boot(A, 'b'), 'vmlinuz'));
    file(join(boot(A, 'c'), 'vmlinuz'));

    // VMs: one running (live stand-in), one `creating` whose creator died (a leftover process
    // uses its run dir), one `creating` whose creator still runs.
    const running = vmRecord(A, 'running', { id: ids.running });
    running.storage_configs[0]!.path = blob(A, 'c');
    running.boot.kernel = join(boot(A, 'c'), 'vmlinuz');
    liveVm = sleeper(vmPaths(A, ids.running).apiSocket);
    const dead = vmRecord(A, 'half', { id: ids.dead, state: 'creating' });
    // Being made: its creator (this test process) is alive.
    const me = selfIdentity();
    const busy = vmRecord(A, 'making', { id: ids.busy, state: 'creating', creator: { pid: me.pid, start_time: me.start } });
    for (const vm of [running, dead, busy]) await claimVmDirs(A, vm.id);
    file(join(A.vmRunDir(ids.dead), 'cow.raw'));
    leftover = sleeper(join(A.vmRunDir(ids.dead), 'api.sock'));
    await vmIndex(A).update((items) => {
      items.set(running.id, { ...running, state: 'running', pid: liveVm.pid! });
      items.set(dead.id, dead);
      items.set(busy.id, busy);
    });
    // Leftovers of VMs without a record: an owned run dir and log dir, a lock file; and root
    // B's dirs in the shared log dir, and a run dir outside A's root marked for B.
    await claimVmDirs(A, ids.orphan);
    await claimVmDirs(B, ids.foreign);
    file(vmLockFile(A, ids.lockOnly), 0);

    // Temporary files: a work dir of a live import (and a store file it just made), one of
    // a process that is gone, a half-written index of a dead writer.
    importer = sleeper('importing');
    mkdirSync(join(A.tmp, `import-${importer.pid}-live`), { recursive: true });
    await new Promise((r) => setTimeout(r, 20));
    file(blob(A, 'd'));
    const gone = await deadPid();
    file(join(A.tmp, `pull-${gone}-x`, 'layer.tar'));
    file(join(A.vms.dir, `.index.json.tmp-${gone}-abcd`), 10);

    // Networks: one of the running VM (kept), one of the dead creator's VM and one of a VM long gone.
    await networksIndex(A).update((items) => {
      for (const id of [ids.running, ids.dead, ids.netOnly]) {
        const now = new Date().toISOString();
        items.set(id, NetRecordSchema.parse({ id, state: id === ids.running ? 'ready' : 'setting-up', backend: 'cni', netns: `cocoon-${id}`, nics: [], publish: [], created_at: now, updated_at: now }));
      }
    });

    // Logs over the size (4096 via COCOON_LOG_MAX_SIZE): the engine log and a stopped VM's console log.
    file(join(sharedLog, 'cocoon.log'), 5000);
    file(vmPaths(A, ids.dead).consoleLog, 100);
  });

  it('--dry-run lists without removing anything', async () => {
    const report = await gcJson(A, '--dry-run');
    assert.equal(report.dry_run, true);
    assert.ok(report.removed.length > 0);
    assert.ok(existsSync(blob(A, 'b')) && existsSync(A.vmRunDir(ids.orphan)), 'nothing removed');
    assert.deepEqual(report.removed.filter((i) => i.kind === 'network').map((i) => i.target).sort(), [ids.dead, ids.netOnly].sort());
    assert.equal(existsSync(netCalls), false, 'cocoon-net not run');
    assert.equal((await vmIndex(A).list()).length, 3);
  });

  it('skips the whole cycle when an index stays locked (exit 5, nothing removed)', async () => {
    const held = await acquireLock(A.images.lock);
    try {
      const r = await gc(A, '--lock-wait', '0.2');
      assert.equal(r.code, 5);
      assert.match(r.stderr, /^cocoon-gc: gc skipped: the images index is locked by another cocoon command/);
      assert.equal(r.stdout, '');
      assert.ok(existsSync(blob(A, 'b')));
    } finally {
      held.release();
    }
  });

  it('removes what nothing uses and keeps what anything uses', async () => {
    const report = await gcJson(A);
    const removed = new Set(report.removed.map((i) => i.target));
    // images
    assert.ok(removed.has(blob(A, 'b')) && !existsSync(blob(A, 'b')), 'unused layer');
    assert.ok(removed.has(boot(A, 'b')) && !existsSync(boot(A, 'b')), 'unused boot files');
    assert.ok(existsSync(blob(A, 'a')) && existsSync(boot(A, 'a')), 'an image\'s layer stays');
    assert.ok(existsSync(blob(A, 'c')) && existsSync(boot(A, 'c')), 'a VM\'s disk and kernel stay though no image has them');
    assert.ok(existsSync(blob(A, 'd')), 'a store file newer than a running import stays');
    // vms
    const left = (await vmIndex(A).list()).map((v) => v.config.name).sort();
    assert.deepEqual(left, ['making', 'running'], 'the dead creator\'s record went; the one being made stays');
    assert.equal(existsSync(A.vmRunDir(ids.dead)) || existsSync(A.vmLogDir(ids.dead)), false, 'its dirs went');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(processArgv(leftover.pid!), null, 'the leftover process using its run dir was ended');
    assert.notEqual(processArgv(liveVm.pid!), null, 'the running VM\'s process was not touched');
    assert.ok(existsSync(A.vmRunDir(ids.running)) && existsSync(A.vmRunDir(ids.busy)), 'recorded VMs keep their run dirs');
    assert.equal(existsSync(A.vmRunDir(ids.orphan)) || existsSync(A.vmLogDir(ids.orphan)), false, 'dirs without a record went');
    assert.equal(existsSync(vmLockFile(A, ids.lockOnly)), false, 'a lock file without a record went');
    // networks: cocoon-net tears down those of VMs without a record (the dead creator's too), with this root
    assert.deepEqual(readFileSync(netCalls, 'utf8').trim().split('\n').sort(), [`del ${ids.dead} root=${A.root}`, `del ${ids.netOnly} root=${A.root}`].sort());
    assert.equal(existsSync(A.vmLogDir(ids.dead)), false, 'the dead creator\'s log dir');
    // What the real cocoon-net del does with them (the stand-in only records the call).
    await networksIndex(A).update((items) => void [ids.dead, ids.netOnly].forEach((id) => items.delete(id)));
    // the other root's dirs in the shared log dir and its own run dir
    assert.ok(existsSync(B.vmLogDir(ids.foreign)) && existsSync(B.vmRunDir(ids.foreign)), 'root B keeps its dirs');
    // temporary files
    assert.equal(existsSync(join(A.tmp, `import-${importer.pid}-live`)), true, 'a live import\'s work dir stays');
    assert.equal(report.removed.filter((i) => i.kind === 'temp').length, 2, `temp files: ${JSON.stringify(report.removed)}`);
    // logs
    assert.ok(existsSync(join(sharedLog, 'cocoon.log.1')), 'engine log rotated');
    assert.equal(report.bytes_freed, report.removed.reduce((s, i) => s + i.bytes, 0));
    assert.ok(report.bytes_freed >= 4 * 8192, `bytes freed: ${report.bytes_freed}`);
  });

  it('collects the running import\'s leftovers once its process is gone; a second cycle finds nothing', async () => {
    importer.kill('SIGKILL');
    await new Promise((r) => importer.on('exit', r));
    const report = await gcJson(A);
    const targets = report.removed.map((i) => i.target);
    assert.ok(targets.includes(blob(A, 'd')), JSON.stringify(targets));
    assert.ok(targets.includes(join(A.tmp, `import-${importer.pid}-live`)));
    assert.ok(!targets.includes(ids.busy), 'a record whose creator still runs stays');
    const again = await gc(A);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, 'nothing to collect\n');
  });

  it('root B\'s gc collects B\'s own orphans, never A\'s VMs', async () => {
    const report = await gcJson(B);
    assert.ok(report.removed.some((i) => i.target === B.vmLogDir(ids.foreign)));
    assert.ok(existsSync(A.vmRunDir(ids.running)) && existsSync(A.vmLogDir(ids.running)), 'A\'s running VM is untouched');
  });

  it('prints text by default and refuses bad flags (exit 2)', async () => {
    file(join(A.tmp, 'stale'));
    utimesSync(join(A.tmp, 'stale'), new Date(0), new Date(0));
    const r = await gc(A);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `removed temp ${join(A.tmp, 'stale')} (8K): temporary and over an hour old\nfreed 1 item, 8K\n`);
    for (const bad of [['--lock-wait', 'soon'], ['--format', 'yaml'], ['--bogus']]) {
      const b = await gc(A, ...bad);
      assert.equal(b.code, 2, `${bad.join(' ')}: ${b.stderr}`);
    }
  });
});

describe('cocoon-gc: snapshots', () => {
  const C = rootOf('c');
  const HOUR = 3_600_000;
  const ago = (h: number) => new Date(Date.now() - h * HOUR).toISOString();
  const snap = (over: Partial<SnapshotRecord>): SnapshotRecord =>
    SnapshotRecordSchema.parse({ id: testId(), name: `s-${testId().slice(0, 6)}`, cpu: 1, memory: 1 << 28, storage: 1 << 30, image: 'img', image_digest: `sha256:${hex('9')}`, image_type: 'oci', hypervisor: 'qemu', nics: 0, created_at: ago(0), ...over });
  const layer = (c: string) => ({ blob: hex(c), ro: true, serial: `l${c}`, role: 'layer' as const, format: 'raw' as const });
  const recs: Record<string, SnapshotRecord> = {};
  let deadWriter = 0;

  before(async () => {
    deadWriter = await deadPid();
    const me = selfIdentity();
    const dead = { pending: true, pending_pid: deadWriter, pending_start_time: 1 };
    // complete: pins layer e by its image; stale: pending 25 h, writer dead (layer g only its);
    // young: pending 1 h, writer dead (disk blob f only its); writing: pending 25 h, writer alive.
    recs.complete = snap({ image_blob_ids: { [hex('e')]: {} }, files: [{ name: 'state.qemu', size: 8192, digest: `sha256:${hex('1')}` }] });
    recs.stale = snap({ ...dead, created_at: ago(25), image_blob_ids: { [hex('0')]: {} }, machine: { accel: 'tcg', cmdline: '', disks: [layer('0')], nics: [], state_file: 'state.qemu', vsock: false } });
    recs.young = snap({ ...dead, created_at: ago(1), machine: { accel: 'tcg', cmdline: '', disks: [layer('f')], nics: [], state_file: 'state.qemu', vsock: false } });
    recs.writing = snap({ pending: true, pending_pid: me.pid, pending_start_time: me.start, created_at: ago(25) });
    await snapshotIndex(C).update((items) => void Object.values(recs).forEach((s) => items.set(s.id, s)));
    for (const c of ['e', 'f', '0', '5']) file(blob(C, c));
    for (const s of Object.values(recs)) file(join(snapshotDir(C, s.id), 'state.qemu'));
    file(join(stagingDir(C, recs.stale.id, `${deadWriter}.1`), 'part'));
    // Folders no record names: an old one, a fresh one (a save in flight), a dead import's staging.
    const old = snapshotDir(C, testId());
    file(join(old, 'state.qemu'));
    utimesSync(old, new Date(Date.now() - 2 * HOUR), new Date(Date.now() - 2 * HOUR));
    recs.oldDir = { id: old } as never;
    file(join(snapshotDir(C, testId()), 'state.qemu'));
    file(join(stagingDir(C, testId(), `${deadWriter}.1`), 'part'));
  });

  it('removes stale pending snapshots and folders no record names; keeps every blob and file a snapshot references', async () => {
    const report = await gcJson(C);
    const left = new Set((await snapshotIndex(C).list()).map((s) => s.id));
    assert.deepEqual([...left].sort(), [recs.complete!.id, recs.young!.id, recs.writing!.id].sort(), 'only the 25 h old pending snapshot of a dead writer went');
    assert.equal(existsSync(snapshotDir(C, recs.stale!.id)) || existsSync(stagingDir(C, recs.stale!.id, `${deadWriter}.1`)), false, 'its folders went');
    for (const s of [recs.complete!, recs.young!, recs.writing!]) assert.ok(existsSync(join(snapshotDir(C, s.id), 'state.qemu')), `${s.name} keeps its files`);
    assert.ok(existsSync(blob(C, 'e')), 'a layer a complete snapshot pins stays');
    assert.ok(existsSync(blob(C, 'f')), 'a disk blob a pending snapshot references stays');
    assert.equal(existsSync(blob(C, '5')), false, 'a layer nothing references goes');
    assert.equal(existsSync(recs.oldDir!.id), false, 'an hour-old folder no record names goes');
    const dirs = report.removed.filter((i) => i.module === 'snapshots').map((i) => i.kind).sort();
    assert.deepEqual(dirs, ['pending-snapshot', 'snapshot-dir', 'snapshot-dir']);
    assert.equal(readdirSync(C.snapshots.dir).filter((n) => !n.startsWith('.') && n !== 'index.json' && !left.has(n)).length, 1, 'the fresh folder (a save in flight) stays');
    // The removed snapshot held its layer during that cycle; the next one frees it.
    assert.ok(existsSync(blob(C, '0')));
    await gcJson(C);
    assert.equal(existsSync(blob(C, '0')), false, 'the layer only the removed snapshot used goes next cycle');
  });
});
