/**
 * What a killed command may leave behind, found the way a careful operator would: processes
 * that carry a test root in their environment (every cocoon tool, its children and the
 * hypervisors inherit COCOON_ROOT_DIR), and temp files whose owner (named in the file name,
 * `<kind>-<pid>.<start>-…`) is dead.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ownerOf } from '@cocoon/common/store/temp';
import { identityAlive, isRunning } from '@cocoon/common/proc';

export interface FoundProcess {
  pid: number;
  argv: string[];
}

/** Live processes whose environment has `KEY=value` exactly (not zombies). */
export function processesWithEnv(key: string, value: string): FoundProcess[] {
  const want = `${key}=${value}`;
  const found: FoundProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid || !isRunning(pid)) continue;
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(want)) continue;
      found.push({ pid, argv: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean) });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

/** Temp entries in `dir` whose owner process is gone (what the next command must sweep). */
export function deadOwnerTemps(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((name) => {
    const owner = ownerOf(name);
    if (!owner) return false;
    return owner.start === null ? !isRunning(owner.pid) : !identityAlive({ pid: owner.pid, start: owner.start });
  });
}

/** Every temp-looking entry (owner alive or not) under the store's tmp and index folders. */
export function allTemps(root: string): string[] {
  const dirs = ['tmp', 'images', 'vms', 'snapshots', 'networks'].map((d) => join(root, d));
  return dirs.flatMap((d) => (existsSync(d) ? readdirSync(d).filter((n) => ownerOf(n) !== null).map((n) => join(d, n)) : []));
}
