/**
 * Snapshots (`<root>/snapshots/`): a pending record (a `snapshot save` or `import` still
 * writing) whose writer is gone and which is over 24 h old goes, with its directory and its
 * import staging folder (the save's VM is resumed first if that save had paused it). Folders
 * no record names go too: staging folders of imports whose process is gone, and snapshot
 * folders without a record that are over an hour old (a save makes its folder after its
 * pending record, so a younger one may be work in flight). What every snapshot (pending
 * included) references is held: its image's layers and its disks' blobs, and its own files.
 */
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { identityAlive } from '@cocoon/common/proc';
import type { SnapshotRecord } from '@cocoon/common/schemas/snapshot';
import { resumePausedSource, writerGone } from '@cocoon/common/snapshots/recover';
import { snapshotDir, snapshotIndex, stagingDir } from '@cocoon/common/snapshots/store';
import { ownerOf } from '@cocoon/common/store/temp';
import { diskBytes, HOUR_MS, names, type GcAction, type GcContext, type GcModule } from '../module.ts';

/** How long a pending snapshot of a dead writer is kept (cocoon-snap recovers it sooner itself). */
export const PENDING_MAX_AGE_MS = 24 * HOUR_MS;

interface Folder {
  name: string;
  path: string;
  mtimeMs: number;
}

interface SnapshotsState {
  records: SnapshotRecord[];
  folders: Folder[];
}

const ID = /^[0-9a-f]{32}$/;
/** `stagingDir`'s names: `.import-<pid>.<start>-<id>`. */
const STAGING = /^\.import-\d+\.\d+-([0-9a-f]{32})$/;

/** The image blobs (hex) snapshot `s` needs: its image's layers and its read-only disks. */
function blobsOf(s: SnapshotRecord): string[] {
  return [...Object.keys(s.image_blob_ids ?? {}), ...(s.machine?.disks.flatMap((d) => (d.blob ? [d.blob] : [])) ?? [])];
}

function stalePending(s: SnapshotRecord, now: number): boolean {
  return s.pending === true && writerGone(s) && now - Date.parse(s.created_at) > PENDING_MAX_AGE_MS;
}

export const snapshotsModule: GcModule<SnapshotsState> = {
  name: 'snapshots',
  lockFile: (layout) => layout.snapshots.lock,
  async read({ layout }) {
    const records = await snapshotIndex(layout).list();
    const folders: Folder[] = [];
    for (const name of await names(layout.snapshots.dir)) {
      if (!ID.test(name) && !STAGING.test(name)) continue; // not a name the store makes: not ours to judge
      const path = join(layout.snapshots.dir, name);
      const st = await stat(path).catch(() => null);
      if (st?.isDirectory()) folders.push({ name, path, mtimeMs: st.mtimeMs });
    }
    return { records, folders };
  },
  holds: ({ records }, { layout }) => ({
    blobs: new Set(records.flatMap(blobsOf)),
    paths: new Set(records.flatMap((s) => (s.files ?? []).map((f) => join(snapshotDir(layout, s.id), f.name)))),
  }),
  async plan(state, _holds, ctx) {
    const actions: GcAction[] = [];
    for (const s of state.records) if (stalePending(s, ctx.now)) actions.push(await pendingAction(s, ctx));
    const known = new Set(state.records.map((s) => s.id));
    for (const f of state.folders) {
      const why = folderGarbage(f, known, ctx.now);
      if (why) actions.push({ module: 'snapshots', kind: 'snapshot-dir', target: f.path, bytes: await diskBytes(f.path), reason: why, collect: () => rm(f.path, { recursive: true, force: true }) });
    }
    return actions;
  },
};

/** Removes a stale pending snapshot: resumes the VM its save paused, then its record, then its folders. */
async function pendingAction(s: SnapshotRecord, ctx: GcContext): Promise<GcAction> {
  const { layout } = ctx;
  const dirs = [snapshotDir(layout, s.id), ...(s.pending_pid !== undefined && s.pending_start_time !== undefined ? [stagingDir(layout, s.id, `${s.pending_pid}.${s.pending_start_time}`)] : [])];
  let bytes = 0;
  for (const d of dirs) bytes += await diskBytes(d);
  return {
    module: 'snapshots',
    kind: 'pending-snapshot',
    target: `${s.name} (${s.id.slice(0, 12)})`,
    bytes,
    reason: `pending since ${s.created_at}; its writer (pid ${s.pending_pid ?? '?'}) is gone`,
    async collect() {
      await resumePausedSource(layout, s);
      // NOTE: the cycle holds the snapshots lock: the record goes first, then its files.
      await snapshotIndex(layout).updateHeld((items) => void items.delete(s.id));
      await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    },
  };
}

/** Why a snapshot folder no record of this cycle names is garbage, or null to keep it. */
function folderGarbage(f: Folder, known: Set<string>, now: number): string | null {
  const staging = STAGING.exec(f.name);
  if (staging) {
    if (known.has(staging[1] ?? '')) return null; // its pending record is collected with it
    const owner = ownerOf(f.name);
    if (!owner || owner.start === null || identityAlive({ pid: owner.pid, start: owner.start })) return null;
    return `import staging of process ${owner.pid}, which is gone`;
  }
  if (known.has(f.name) || now - f.mtimeMs <= HOUR_MS) return null;
  return 'a snapshot folder no record names, over an hour old';
}
