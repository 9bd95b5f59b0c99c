/**
 * Temporary files: the work folders and files under `<root>/tmp` (imports, pulls, cloud
 * downloads, default-guest builds: named `<what>-<pid>-<random>`), half-written index files
 * (`.<name>.tmp-<pid>-<random>`, from writeFileAtomic) next to each index and in the blob
 * store, and half-downloaded kernel packages in `<root>/cache`. One is garbage once the
 * process its name carries is gone, or, without a PID, once it is an hour old.
 *
 * It also tells the other modules what is still in flight: the earliest start of a work
 * folder whose process lives (the images module leaves store files newer than that alone).
 */
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Layout } from '@cocoon/common/layout';
import { diskBytes, HOUR_MS, names, pidAlive, type GcAction, type GcModule } from '../module.ts';

interface TempEntry {
  path: string;
  pid: number | null;
  /** When it was made (birth time where the filesystem keeps one, else its change time). */
  bornMs: number;
  mtimeMs: number;
}

/** `import-123-abc`, `build-default-123-abc`, `cloud-123-abc` (a PID has at most 7 digits). */
const WORK = /^[a-z]+(?:-[a-z]+)*-(\d{1,7})-[^/]+$/;
/** writeFileAtomic's temp files: `.index.json.tmp-123-abcd`. */
const ATOMIC = /^\..+\.tmp-(\d{1,7})-[0-9a-f]+$/;
/** Kernel package downloads of `image build-default`: `.download-XXXXXX`. */
const DOWNLOAD = /^\.download-/;

/**
 * Entries of `dir` matching `pattern` (its first group is the PID), or with `all`, every
 * entry (`<root>/tmp` is cocoon's alone; a name without a PID ages out).
 */
async function scan(dir: string, pattern: RegExp, all = false): Promise<TempEntry[]> {
  const out: TempEntry[] = [];
  for (const name of await names(dir)) {
    const m = pattern.exec(name);
    if (!m && !all) continue;
    const path = join(dir, name);
    const st = await stat(path).catch(() => null);
    if (st) out.push({ path, pid: m?.[1] ? Number(m[1]) : null, bornMs: st.birthtimeMs || st.ctimeMs, mtimeMs: st.mtimeMs });
  }
  return out;
}

/** The folders where atomic writes leave their temp files. */
function indexDirs(layout: Layout): string[] {
  return [layout.images.dir, layout.images.blobs, layout.vms.dir, layout.snapshots.dir, layout.networks.dir];
}

export const tmpModule: GcModule<TempEntry[]> = {
  name: 'tmp',
  lockFile: () => null,
  async read({ layout }) {
    const found = await scan(layout.tmp, WORK, true);
    for (const dir of indexDirs(layout)) found.push(...(await scan(dir, ATOMIC)));
    found.push(...(await scan(join(layout.root, 'cache'), DOWNLOAD)));
    return found;
  },
  holds: (entries, ctx) => ({
    inFlightSince: Math.min(Infinity, ...entries.filter((e) => !isGarbage(e, ctx.now)).map((e) => e.bornMs)),
  }),
  async plan(entries, _holds, ctx) {
    const actions: GcAction[] = [];
    for (const e of entries) {
      if (!isGarbage(e, ctx.now)) continue;
      const reason = e.pid !== null ? `left by process ${e.pid}, which is gone` : 'temporary and over an hour old';
      actions.push({ module: 'tmp', kind: 'temp', target: e.path, bytes: await diskBytes(e.path), reason, collect: () => rm(e.path, { recursive: true, force: true }) });
    }
    return actions;
  },
};

function isGarbage(e: TempEntry, now: number): boolean {
  if (e.pid !== null) return e.pid !== process.pid && !pidAlive(e.pid);
  return now - e.mtimeMs > HOUR_MS;
}
