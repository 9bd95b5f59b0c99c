/**
 * Pending snapshots whose writer is gone (killed mid-save or mid-import): the source VM is
 * resumed if the save had paused it, and the half-written directory and record are removed.
 * `cocoon-snap` runs this before it lists or writes snapshots, its save guard runs it the
 * moment a save dies, and `cocoon gc` can run it too.
 */
import { rm } from 'node:fs/promises';
import type { Layout } from '../layout.ts';
import { driverFor } from '../hypervisor/drivers.ts';
import { canSnapshot, vmPaths } from '../hypervisor/index.ts';
import { isLive, liveState } from '../hypervisor/live.ts';
import { processArgv } from '../hypervisor/process.ts';
import { identityAlive } from '../proc.ts';
import type { SnapshotRecord } from '../schemas/snapshot.ts';
import { vmIndex } from '../vms.ts';
import { snapshotDir, snapshotIndex, stagingDir } from './store.ts';

/** Whether the command that wrote pending snapshot `s` is gone (a reused PID does not count as it). */
export function writerGone(s: SnapshotRecord): boolean {
  if (s.pending !== true) return false;
  if (s.pending_pid === undefined) return true;
  if (s.pending_start_time === undefined) return processArgv(s.pending_pid) === null;
  return !identityAlive({ pid: s.pending_pid, start: s.pending_start_time });
}

/**
 * Finishes what dead writers left: resumes VMs their saves paused, removes their files and
 * records. `only` limits it to one snapshot ID. Returns the IDs removed.
 */
export async function recoverStaleSnapshots(layout: Layout, only?: string): Promise<string[]> {
  const index = snapshotIndex(layout);
  const stale = (await index.list()).filter((s) => writerGone(s) && (only === undefined || s.id === only));
  if (stale.length === 0) return [];
  for (const s of stale) await resumePausedSource(layout, s);
  const removed = await index.update((items) => {
    const gone: string[] = [];
    for (const s of stale) {
      const now = items.get(s.id);
      if (now && writerGone(now)) {
        items.delete(s.id);
        gone.push(s.id);
      }
    }
    return gone;
  });
  const dirs = stale.filter((s) => removed.includes(s.id)).flatMap((s) => [snapshotDir(layout, s.id), ...(s.pending_pid !== undefined && s.pending_start_time !== undefined ? [stagingDir(layout, s.id, `${s.pending_pid}.${s.pending_start_time}`)] : [])]);
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  return removed;
}

/**
 * Lets the VM that the dead save of `s` paused run again (a VM the user paused is recorded
 * `paused` and left so; a snapshot whose save did not pause its VM changes nothing).
 */
export async function resumePausedSource(layout: Layout, s: SnapshotRecord): Promise<void> {
  if (!s.paused_by_save || !s.vm_id) return;
  const vmId = s.vm_id;
  const vm = (await vmIndex(layout).list()).find((v) => v.id === vmId);
  if (!vm || vm.state !== 'running' || !isLive(liveState(layout, vm))) return;
  const driver = driverFor(vm.hypervisor);
  if (!canSnapshot(driver)) return;
  const paths = vmPaths(layout, vm.id);
  if (await driver.isPaused(paths)) await driver.resume(paths);
}
