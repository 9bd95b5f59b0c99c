/**
 * Temporary files: the work folders and files under `<root>/tmp` (imports, pulls, cloud
 * downloads, default-guest builds), half-written index files (`.<name>.tmp-…`, from
 * writeFileAtomic) next to each index and in the blob store, and half-downloaded kernel
 * packages in `<root>/cache`. Temp names carry their owner (`<kind>-<pid>.<start>-<random>`,
 * store/temp.ts): one is garbage once that process is gone (a reused PID does not keep it:
 * the start time differs), or, without an owner in its name, once it is an hour old.
 *
 * It also tells the other modules what is still in flight: the earliest start of a work
 * folder whose process lives (the images module leaves store files newer than that alone).
 */
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Layout } from '@cocoon/common/layout';
import { identityAlive, isRunning } from '@cocoon/common/proc';
import { ownerOf } from '@cocoon/common/store/temp';
import { diskBytes, HOUR_MS, names, type GcAction, type GcModule } from '../module.ts';

interface TempEntry {
  path: string;
  owner: { pid: number; start: number | null } | null;
  /** When it was made (birth time where the filesystem keeps one, else its change time). */
  bornMs: number;
  mtimeMs: number;
}

/** writeFileAtomic's temp files: `.index.json.tmp-<pid>.<start>-abcd`. */
const ATOMIC = /\.tmp-\d/;
/** Kernel package downloads of `image build-default`: `.download-XXXXXX`. */
const DOWNLOAD = /^\.download-/;

/**
 * Entries of `dir` whose name matches `pattern`, with the owner their name carries; `null`
 * as the pattern takes every entry (`<root>/tmp` is cocoon's alone).
 */
async function scan(dir: string, pattern: RegExp | null): Promise<TempEntry[]> {
  const out: TempEntry[] = [];
  for (const name of await names(dir)) {
    if (pattern && !pattern.test(name)) continue;
    const path = join(dir, name);
    const st = await stat(path).catch(() => null);
    if (st) out.push({ path, owner: ownerOf(name), bornMs: st.birthtimeMs || st.ctimeMs, mtimeMs: st.mtimeMs });
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
    const found = await scan(layout.tmp, null);
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
      const reason = e.owner ? `left by process ${e.owner.pid}, which is gone` : 'temporary and over an hour old';
      actions.push({ module: 'tmp', kind: 'temp', target: e.path, bytes: await diskBytes(e.path), reason, collect: () => rm(e.path, { recursive: true, force: true }) });
    }
    return actions;
  },
};

function isGarbage(e: TempEntry, now: number): boolean {
  if (!e.owner) return now - e.mtimeMs > HOUR_MS;
  if (e.owner.pid === process.pid) return false;
  return e.owner.start === null ? !isRunning(e.owner.pid) : !identityAlive({ pid: e.owner.pid, start: e.owner.start });
}
