/**
 * The save guard: `snapshot save` starts a small detached `cocoon-snap guard` before it
 * pauses the VM. If the save dies (even by SIGKILL) while its snapshot is pending, the guard
 * resumes the VM and removes the half-made snapshot at once, instead of leaving the VM
 * paused until the next cocoon command. A save that ends normally stops its guard.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pidBelongsTo, processArgv, signalIfOwned } from '@cocoon/common/hypervisor/process';
import type { Layout } from '@cocoon/common/layout';
import { recoverStaleSnapshots } from '@cocoon/common/snapshots/recover';
import { snapshotIndex } from '@cocoon/common/snapshots/store';

const POLL_MS = 100;

export interface Guard {
  pid: number;
  marker: string;
}

/** Starts the guard of pending snapshot `id` (null when it cannot start: the next command recovers instead). */
export async function startGuard(layout: Layout, id: string): Promise<Guard | null> {
  try {
    const [{ spawnDetached }, { findTool }] = await Promise.all([import('@cocoon/common/exec'), import('@cocoon/common/tools')]);
    mkdirSync(layout.log, { recursive: true, mode: 0o700 });
    const marker = `--snapshot=${id}`;
    const args = ['guard', `--pid=${process.pid}`, marker, '--root-dir', layout.root, '--run-dir', layout.run, '--log-dir', layout.log];
    const child = await spawnDetached(findTool('cocoon-snap'), args, join(layout.log, 'snapshot-guard.log'));
    return { pid: child.pid, marker };
  } catch {
    return null;
  }
}

/** Ends a guard whose save finished (its PID verified first). */
export function stopGuard(guard: Guard | null): void {
  if (guard && pidBelongsTo(guard.pid, guard.marker)) signalIfOwned(guard.pid, guard.marker, 'SIGTERM');
}

/** The guard's loop: wait for the saver to die or the snapshot to complete, then recover. */
export async function guard(layout: Layout, saverPid: number, id: string): Promise<void> {
  for (;;) {
    const s = (await snapshotIndex(layout).list()).find((r) => r.id === id);
    if (!s?.pending) return;
    if (processArgv(saverPid) === null) {
      await recoverStaleSnapshots(layout, id);
      return;
    }
    await sleep(POLL_MS);
  }
}
