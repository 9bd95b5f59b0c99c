/**
 * What a killed `vm create`/`vm start`/`vm run` leaves, and how the next command deals with it:
 * records in a temp root, and a REAL QEMU (TCG, no kernel: it idles in its BIOS) launched the
 * way a killed `vm start` leaves it: running, its pid file in the run dir, the record `created`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { z } from 'zod';
import { driverFor } from '@cocoon/common/hypervisor/drivers';
import { vmPaths } from '@cocoon/common/hypervisor/index';
import { isRunning, procStat, selfIdentity } from '@cocoon/common/proc';
import { ImageResolveSchema } from '@cocoon/common/schemas/image';
import { VmRecordSchema, type VmRecord } from '@cocoon/common/schemas/vm';
import { runInProcess } from '@cocoon/common/testing/cli';
import { vmIndex } from '@cocoon/common/vms';
import { cliFor } from '../src/cli.ts';
import { createVm } from '../src/vm/lifecycle.ts';
import { launchSpec } from '../src/vm/spec.ts';
import { addVm, tempRoot } from './fixtures.ts';

const { root, layout, env, cleanup } = tempRoot('cocoon-recovery-');
const started: number[] = [];
after(() => {
  for (const pid of started) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
  cleanup();
});

const run = (...argv: string[]) => runInProcess(cliFor(argv), 'cocoon', argv, env);
const list = async () => z.array(VmRecordSchema).parse(JSON.parse((await run('vm', 'ls', '-o', 'json')).stdout));

/** The identity of a process that has exited. */
function deadCreator(): NonNullable<VmRecord['creator']> {
  const pid = Number(spawnSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' }).stdout.trim());
  return { pid, start_time: 1 };
}

/** A created VM with no kernel or disks but its COW file: QEMU boots into its BIOS and idles. */
async function biosVm(name: string): Promise<VmRecord> {
  const vm = await addVm(layout, name, { boot: { kernel: null, initrd: null, firmware: null, cmdline: '' } });
  writeFileSync(vmPaths(layout, vm.id).cowDisk, Buffer.alloc(1 << 20));
  return vm;
}

/** Launches the VM's QEMU as `vm start` does, without recording it: what a killed start leaves. */
async function orphanHypervisor(vm: VmRecord): Promise<number> {
  const { pid } = await driverFor('qemu').start(launchSpec(layout, vm), 30_000);
  started.push(pid);
  return pid;
}

describe('an interrupted vm create', () => {
  it('shows as error in ls and inspect, cannot start, and is removed by rm', async () => {
    const vm = await addVm(layout, 'half-made', { state: 'creating', creator: deadCreator() });
    const shown = (await list()).find((v) => v.id === vm.id);
    assert.equal(shown?.state, 'error');
    assert.match(shown?.error ?? '', /creation interrupted: its creator \(pid \d+\) is gone; remove it with "cocoon vm rm half-made"/);
    const inspect = await run('vm', 'inspect', 'half-made');
    assert.equal(JSON.parse(inspect.stdout).state, 'error');
    const start = await run('vm', 'start', 'half-made');
    assert.equal(start.code, 6);
    assert.match(start.stderr, /never fully created/);
    const removed = await run('vm', 'rm', 'half-made');
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal((await list()).some((v) => v.id === vm.id), false);
  });

  it('gives its name up to a new create', async () => {
    const old = await addVm(layout, 'Reused', { state: 'creating', creator: deadCreator() });
    const image = ImageResolveSchema.parse({ id: 'c'.repeat(32), name: 'fake', digest: `sha256:${'d'.repeat(64)}`, kind: 'oci', disks: [], kernel: '/k', initrd: null, firmware: null, cmdline: [] });
    const vm = await createVm(layout, { name: 'reused', image, imageRef: 'fake', cpu: 1, memory: 2 ** 28, storage: 2 ** 26, nics: 0, hypervisor: 'qemu', accel: 'tcg' });
    assert.equal(vm.state, 'created');
    assert.equal(vm.creator, undefined, 'a finished record names no creator');
    const ids = (await vmIndex(layout).list()).map((v) => v.id);
    assert.ok(ids.includes(vm.id) && !ids.includes(old.id));
  });

  it('while its creator runs: start says it is being created (6), rm is busy (5)', async () => {
    const me = selfIdentity();
    await addVm(layout, 'in-progress', { state: 'creating', creator: { pid: me.pid, start_time: me.start } });
    assert.equal((await list()).find((v) => v.config.name === 'in-progress')?.state, 'creating');
    const start = await run('vm', 'start', 'in-progress');
    assert.equal(start.code, 6);
    assert.match(start.stderr, /still being created/);
    assert.equal((await run('vm', 'rm', 'in-progress')).code, 5);
  });
});

describe('an interrupted vm clone', () => {
  it('(its restored hypervisor recorded, its creator gone) shows as error, and rm removes it with its hypervisor', async () => {
    const vm = await biosVm('half-cloned');
    const pid = await orphanHypervisor(vm);
    // What a clone killed between the launch and `running` leaves: creating, creator gone, pid recorded.
    await vmIndex(layout).update((items) => void items.set(vm.id, { ...vm, state: 'creating', creator: deadCreator(), pid, pid_start_time: procStat(pid)?.start }));
    assert.equal((await list()).find((v) => v.id === vm.id)?.state, 'error');
    const removed = await run('vm', 'rm', 'half-cloned');
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(isRunning(pid), false, 'rm killed the hypervisor of the half-made clone');
    assert.equal((await list()).some((v) => v.id === vm.id), false);
  });
});

describe('a hypervisor its killed starter did not record', () => {
  it('is shown running, blocks rm without --force, and is adopted by start', async () => {
    const vm = await biosVm('adopt-me');
    const pid = await orphanHypervisor(vm);
    const shown = (await list()).find((v) => v.id === vm.id);
    assert.deepEqual([shown?.state, shown?.pid], ['running', pid]);
    assert.equal((await run('vm', 'rm', 'adopt-me')).code, 6, 'running: rm needs --force');
    const start = await run('vm', 'start', 'adopt-me');
    assert.equal(start.code, 0, start.stderr);
    const rec = (await vmIndex(layout).list()).find((v) => v.id === vm.id);
    assert.deepEqual([rec?.state, rec?.pid, rec?.pid_start_time], ['running', pid, procStat(pid)?.start], 'the same QEMU, now recorded with its start time');
    assert.equal((await run('vm', 'start', 'adopt-me')).code, 6, 'already running');
    assert.equal((await run('vm', 'rm', '--force', 'adopt-me')).code, 0);
    assert.equal(isRunning(pid), false, 'rm --force killed it');
  });

  it('is killed by rm --force and stopped by stop', async () => {
    const a = await biosVm('kill-me');
    const pa = await orphanHypervisor(a);
    const r = await run('vm', 'rm', '--force', 'kill-me');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(isRunning(pa), false);
    const b = await biosVm('stop-me');
    const pb = await orphanHypervisor(b);
    const s = await run('vm', 'stop', '--force', 'stop-me');
    assert.equal(s.code, 0, s.stderr);
    assert.equal(isRunning(pb), false);
    assert.equal((await list()).find((v) => v.id === b.id)?.state, 'stopped');
  });

  it('a recorded PID whose start time differs (the PID was reused) is not taken for the VM', async () => {
    const vm = await addVm(layout, 'reused-pid', { state: 'running', pid: process.pid, pid_start_time: 1 });
    const shown = (await list()).find((v) => v.id === vm.id);
    assert.deepEqual([shown?.state, shown?.pid], ['stopped', 0]);
    assert.equal((await run('vm', 'rm', 'reused-pid')).code, 0);
    assert.ok(isRunning(process.pid));
    void root;
  });
});
