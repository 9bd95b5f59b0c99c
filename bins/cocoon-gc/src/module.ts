/**
 * A garbage-collection module: one store (images, VMs, networks, snapshots, temp files,
 * logs) that reads its own records, says what they hold on to, and finds its garbage using
 * what EVERY module holds on to. Modules plug in by being listed in `modules/index.ts`;
 * they never import each other, they meet in `Holds` (the Go cocoon's cross-module
 * protocols `UsedBlobIDs` / `ActiveVMIDs`).
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Layout } from '@cocoon/common/layout';
import type { RotationPolicy } from '@cocoon/common/log-rotate';
import type { GcItem } from '@cocoon/common/schemas/gc';

export interface GcContext {
  layout: Layout;
  /** The cycle's clock (ms since the epoch): ages are measured against it. */
  now: number;
  rotation: RotationPolicy;
  /** The environment for cocoon tools gc runs (same root, run, log and CNI dirs). */
  toolEnv: Record<string, string>;
  /** Reports something gc saw and left alone (printed with the report). */
  notice(message: string): void;
}

/** What records hold on to; the union over all modules protects it from every module. */
export interface Holds {
  /** Image blob digests (hex) in use: by image records, and by snapshots that pin their image's layers. */
  blobs: Set<string>;
  /** Files in use (a VM's disks, wherever they are). */
  paths: Set<string>;
  /** IDs of VMs that have a record. */
  vms: Set<string>;
  /** IDs of VMs whose hypervisor runs: their files are never touched. */
  liveVms: Set<string>;
  /**
   * The earliest start of a store operation still running (an import or pull with a live
   * process): store files newer than this may be its work, not yet recorded. Infinity when none.
   */
  inFlightSince: number;
}

/** A planned removal; `collect` is what removes it. */
export interface GcAction extends GcItem {
  collect: () => Promise<void>;
  /** Frees what planning took (a lock) when the action is not collected (dry run). */
  release?: () => void;
  /**
   * Collected after the cycle has released the index locks: for work another tool does
   * (cocoon-net tears down a network under the networks lock itself). Only for garbage that
   * nothing can start using again (the VM it belonged to has no record).
   */
  afterUnlock?: boolean;
}

export interface GcModule<S = unknown> {
  readonly name: string;
  /** The index lock the cycle holds for this module (null: the module has no index). */
  lockFile(layout: Layout): string | null;
  /** Reads the module's state; called with every lock held. */
  read(ctx: GcContext): Promise<S>;
  /** What this module's records hold on to (merged into the cycle's `Holds`). */
  holds?(state: S, ctx: GcContext): Partial<Holds>;
  /** The module's garbage, judged against everything every module holds. */
  plan(state: S, holds: Holds, ctx: GcContext): Promise<GcAction[]>;
}

export const HOUR_MS = 3_600_000;

/** Names in `dir` (none when it does not exist). */
export async function names(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

/** Bytes allocated on disk by `path` (a file, or a directory and everything in it; symlinks not followed). */
export async function diskBytes(path: string): Promise<number> {
  let st;
  try {
    st = await lstat(path);
  } catch {
    return 0;
  }
  let total = st.blocks * 512;
  if (st.isDirectory()) for (const name of await names(path)) total += await diskBytes(join(path, name));
  return total;
}
