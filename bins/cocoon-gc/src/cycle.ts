/**
 * One garbage-collection cycle, as the Go cocoon's orchestrator: lock every module's index
 * (or skip the whole cycle when one is busy: collecting without a complete view could
 * delete what the missing module protects), read every module, merge what they hold on
 * to, plan each module's garbage against the merged view, then collect, all under the
 * locks, so no command can start using something between the plan and the removal.
 */
import { BusyError, errnoCode } from '@cocoon/common/errors';
import type { GcReport } from '@cocoon/common/schemas/gc';
import { acquireLock, type HeldLock } from '@cocoon/common/store/lock';
import type { GcAction, GcContext, GcModule, Holds } from './module.ts';

export interface CycleOptions {
  dryRun: boolean;
  /** How long to keep trying for the locks before skipping the cycle (ms). */
  lockWaitMs: number;
}

/** Runs one cycle over `modules`. Throws a BusyError (nothing collected) when a lock stays busy. */
export async function runCycle(modules: readonly GcModule[], base: Omit<GcContext, 'notice'>, opts: CycleOptions): Promise<GcReport> {
  const notices: string[] = [];
  const ctx: GcContext = { ...base, notice: (m) => notices.push(m) };
  const locks = await lockAll(modules, ctx, opts.lockWaitMs);
  const report: GcReport = { dry_run: opts.dryRun, modules: modules.map((m) => m.name), removed: [], bytes_freed: 0, errors: [], notices };
  let deferred: GcAction[] = [];
  try {
    const states = new Map<GcModule, unknown>();
    for (const m of modules) states.set(m, await m.read(ctx));
    const holds = mergeHolds(modules.map((m) => m.holds?.(states.get(m), ctx) ?? {}));
    const actions: GcAction[] = [];
    for (const m of modules) actions.push(...(await m.plan(states.get(m), holds, ctx)));
    deferred = actions.filter((a) => a.afterUnlock);
    await collectAll(actions.filter((a) => !a.afterUnlock), opts.dryRun, report);
  } finally {
    for (const l of locks) l.release();
  }
  await collectAll(deferred, opts.dryRun, report);
  return report;
}

async function collectAll(actions: GcAction[], dryRun: boolean, report: GcReport): Promise<void> {
  for (const { collect, release, afterUnlock: _, ...item } of actions) {
    if (dryRun) {
      release?.();
    } else {
      try {
        await collect();
      } catch (err) {
        report.errors.push({ target: item.target, error: errnoCode(err) ?? (err as Error).message });
        continue;
      }
    }
    report.removed.push(item);
    report.bytes_freed += item.bytes;
  }
}

/**
 * Takes every module's lock without waiting on any one of them: when one is busy, all
 * are released and the round is tried again (so gc never holds some locks while waiting
 * for another, which could stall the commands that hold it); after `waitMs`, a BusyError
 * naming the busy modules.
 */
async function lockAll(modules: readonly GcModule[], ctx: GcContext, waitMs: number): Promise<HeldLock[]> {
  const wanted = modules.flatMap((m) => {
    const file = m.lockFile(ctx.layout);
    return file ? [{ name: m.name, file }] : [];
  });
  const deadline = Date.now() + waitMs;
  for (let delay = 20; ; delay = Math.min(delay * 2, 200)) {
    const held: HeldLock[] = [];
    const busy: string[] = [];
    for (const w of wanted) {
      try {
        held.push(await acquireLock(w.file, { timeoutMs: 0 }));
      } catch (err) {
        if (!(err instanceof BusyError)) {
          for (const l of held) l.release();
          throw err;
        }
        busy.push(w.name);
      }
    }
    if (busy.length === 0) return held;
    for (const l of held) l.release();
    if (Date.now() >= deadline) {
      throw new BusyError(`gc skipped: the ${busy.join(', ')} index${busy.length > 1 ? 'es are' : ' is'} locked by another cocoon command (waited ${waitMs} ms); nothing was removed, run it again later`);
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

function mergeHolds(parts: Partial<Holds>[]): Holds {
  const merged: Holds = { blobs: new Set(), paths: new Set(), vms: new Set(), liveVms: new Set(), inFlightSince: Infinity };
  for (const p of parts) {
    for (const key of ['blobs', 'paths', 'vms', 'liveVms'] as const) for (const v of p[key] ?? []) merged[key].add(v);
    merged.inFlightSince = Math.min(merged.inFlightSince, p.inFlightSince ?? Infinity);
  }
  return merged;
}
