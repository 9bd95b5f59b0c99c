/** The VM lifecycle against records in a temp root: locking, concurrent removal. */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { acquireLock } from '@cocoon/common/store/lock';
import { vmIndex, vmLockFile } from '@cocoon/common/vms';
import { ImageResolveSchema } from '@cocoon/common/schemas/image';
import { createVm, removeVm, startVm } from '../src/vm/lifecycle.ts';
import { addVm, baseConfig, tempRoot } from './fixtures.ts';

const { layout, cleanup } = tempRoot('cocoon-lifecycle-');
after(cleanup);

describe('vm rm', () => {
  it('keeps the lock file (unlinking it races with a waiter on the old inode)', async () => {
    const vm = await addVm(layout, 'keep-lock');
    await removeVm(layout, 'keep-lock', false);
    assert.equal(existsSync(vmLockFile(layout, vm.id)), true);
    assert.equal((await vmIndex(layout).list()).some((v) => v.id === vm.id), false);
  });

  it('reports a VM removed while it waited for the lock by the reference given, as when it was already gone', async () => {
    const vm = await addVm(layout, 'loser');
    const held = await acquireLock(vmLockFile(layout, vm.id));
    // The loser resolves the name, then waits for the lock the winner holds.
    const loser = removeVm(layout, 'loser', false).then(() => null, (err: Error) => err);
    await new Promise((r) => setTimeout(r, 50));
    await vmIndex(layout).update((items) => void items.delete(vm.id));
    held.release();
    const err = await loser;
    assert.ok(err, 'the loser fails');
    assert.equal(err.message, 'VM not found: loser');
    const late = await removeVm(layout, 'loser', false).catch((e: Error) => e);
    assert.equal((late as Error).message, err.message, 'one form whether the loser came early or late');
  });
});

describe('vm start', () => {
  it('a start the hypervisor refuses leaves no sockets or pid file in the run dir', async () => {
    // 100 TiB of guest memory: QEMU makes its sockets, then fails to allocate and exits.
    const vm = await addVm(layout, 'too-big', { config: { ...baseConfig(), memory: 100 * 2 ** 40 } });
    const err = await startVm(layout, 'too-big', 30_000).catch((e: Error) => e);
    assert.ok(err instanceof Error, 'the start fails');
    const left = readdirSync(layout.vmRunDir(vm.id));
    assert.deepEqual(left.filter((f) => f.endsWith('.sock') || f.endsWith('.pid')), [], `left: ${left.join(', ')}`);
    const after = (await vmIndex(layout).list()).find((v) => v.id === vm.id);
    assert.equal(after?.state, 'error');
  });
});

describe('vm create names', () => {
  it('refuses a name that differs from another only in case (both would be one hostname)', async () => {
    const image = ImageResolveSchema.parse({ id: 'c'.repeat(32), name: 'fake', digest: `sha256:${'d'.repeat(64)}`, kind: 'oci', disks: [], kernel: '/k', initrd: null, firmware: null, cmdline: [] });
    const req = { image, imageRef: 'fake', cpu: 1, memory: 2 ** 28, storage: 2 ** 26, nics: 0, hypervisor: 'qemu' as const, accel: 'tcg' as const };
    await createVm(layout, { ...req, name: 'DUP1' });
    await assert.rejects(createVm(layout, { ...req, name: 'dup1' }), { exitCode: 4, message: /VM name "dup1" already exists/ });
  });
});
