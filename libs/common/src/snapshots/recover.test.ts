/**
 * Pending snapshots and their staging folders after their writer died: the writer is a PID
 * plus its start time (a reused PID is not it), and a staging folder is an owner-named temp
 * that the sweep of the snapshots folder removes even without a record.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { layoutOf } from '../layout.ts';
import { selfIdentity } from '../proc.ts';
import { newId } from '../refs.ts';
import type { SnapshotRecord } from '../schemas/snapshot.ts';
import { ownerOf, sweepDeadOwners } from '../store/temp.ts';
import { recoverStaleSnapshots, writerGone } from './recover.ts';
import { pendingByThisProcess, snapshotDir, snapshotIndex, stagingDir } from './store.ts';

const root = mkdtempSync(join(tmpdir(), 'cocoon-snap-recover-'));
after(() => rmSync(root, { recursive: true, force: true }));
const layout = layoutOf({ root_dir: root, run_dir: join(root, 'run'), log_dir: join(root, 'log') });

/** The PID of a process that has exited (and been reaped). */
function deadPid(): number {
  return Number(spawnSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' }).stdout.trim());
}

function pending(name: string, writer: Pick<SnapshotRecord, 'pending_pid' | 'pending_start_time'>): SnapshotRecord {
  const base = { cpu: 1, memory: 1, storage: 1, image: 'x', image_digest: `sha256:${'0'.repeat(64)}`, image_type: 'oci', hypervisor: 'qemu', nics: 0 } as const;
  return { ...base, id: newId(), name, created_at: new Date().toISOString(), pending: true, ...writer };
}

describe('pending snapshots of dead writers', () => {
  it('a writer is its PID and start time: a reused PID does not keep a pending snapshot alive', () => {
    const me = selfIdentity();
    assert.equal(writerGone(pending('mine', pendingByThisProcess())), false);
    assert.equal(writerGone(pending('reused', { pending_pid: me.pid, pending_start_time: me.start + 1 })), true);
    assert.equal(writerGone(pending('dead', { pending_pid: deadPid(), pending_start_time: 1 })), true);
    assert.equal(writerGone(pending('old-style', { pending_pid: me.pid })), false, 'a record without a start time: the PID alone');
  });

  it('recovery removes the dead writer\'s record, snapshot folder and staging folder, and keeps a live one\'s', async () => {
    const dead = { pending_pid: deadPid(), pending_start_time: 1 };
    const gone = pending('gone', dead);
    const live = pending('live', pendingByThisProcess());
    await snapshotIndex(layout).update((items) => void items.set(gone.id, gone).set(live.id, live));
    const goneDirs = [snapshotDir(layout, gone.id), stagingDir(layout, gone.id, `${dead.pending_pid}.${dead.pending_start_time}`)];
    const liveDirs = [snapshotDir(layout, live.id), stagingDir(layout, live.id)];
    for (const d of [...goneDirs, ...liveDirs]) mkdirSync(d, { recursive: true });
    assert.deepEqual(await recoverStaleSnapshots(layout), [gone.id]);
    assert.deepEqual(goneDirs.map(existsSync), [false, false]);
    assert.deepEqual(liveDirs.map(existsSync), [true, true]);
    assert.deepEqual((await snapshotIndex(layout).list()).map((s) => s.name), ['live']);
  });

  it('a staging folder names its owner, so the sweep of the snapshots folder removes a dead one\'s and nothing else', () => {
    const id = newId();
    const mine = stagingDir(layout, id);
    assert.deepEqual(ownerOf(basename(mine)), { pid: selfIdentity().pid, start: selfIdentity().start });
    const orphan = stagingDir(layout, newId(), `${deadPid()}.1`);
    const complete = snapshotDir(layout, newId());
    for (const d of [mine, orphan, complete]) mkdirSync(d, { recursive: true });
    assert.deepEqual(sweepDeadOwners(layout.snapshots.dir), [basename(orphan)]);
    assert.deepEqual([mine, orphan, complete].map(existsSync), [true, false, true]);
  });
});
