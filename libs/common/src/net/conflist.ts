/**
 * CNI network configuration lists (`*.conflist` in `--cni-conf-dir`), read the way libcni
 * reads them: every `.conflist` file sorted by file name; `--network NAME` picks one by its
 * `name`, and the default is the first file's. Shared by the front end (it refuses a bad
 * `--network` or `-p` before making anything) and `cocoon-net` (it runs the plugins).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { errnoCode, InvalidDataError, MissingDependencyError, NotFoundError, UsageError } from '../errors.ts';
import { CniConflistSchema, type CniConflist } from '../schemas/net.ts';

/** The one line every "no network configured" failure ends with. */
export const NO_CONFLIST_FIX = 'run "cocoon-doctor check --fix" (as root) to write a default bridge network, or pass --nics 0 for a VM without network';

/** Every conflist in `dir`, by file name; a file that is not a valid conflist is an error naming it. */
export function loadConflists(dir: string): Array<{ file: string; conflist: CniConflist }> {
  let names: string[];
  try {
    names = readdirSync(dir).filter((f) => f.endsWith('.conflist')).sort();
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return [];
    throw err;
  }
  return names.map((name) => {
    const file = join(dir, name);
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new InvalidDataError(`CNI conflist ${file}: not valid JSON (${(err as Error).message})`);
    }
    const parsed = CniConflistSchema.safeParse(json);
    if (!parsed.success) throw new InvalidDataError(`CNI conflist ${file}: ${z.prettifyError(parsed.error).split('\n').join('; ')}`);
    return { file, conflist: parsed.data };
  });
}

/** The conflist named `name` (or the default); a clear error when there is none or no such one. */
export function pickConflist(dir: string, name: string | undefined): CniConflist {
  const all = loadConflists(dir);
  const first = all[0];
  if (!first) throw new MissingDependencyError(`no CNI network configured (no *.conflist in ${dir}): ${NO_CONFLIST_FIX}`);
  if (name === undefined) return first.conflist;
  const found = all.find((c) => c.conflist.name === name);
  if (!found) throw new NotFoundError(`--network: network "${name}" not found in ${dir} (available: ${[...new Set(all.map((c) => c.conflist.name))].join(', ')})`);
  return found.conflist;
}

/** Whether a plugin of the list declares the `portMappings` capability (the standard `portmap` does). */
export function supportsPortMappings(conflist: CniConflist): boolean {
  return conflist.plugins.some((p) => p.capabilities?.portMappings === true);
}

/** `-p` needs a plugin that does the NAT: a usage error naming the fix otherwise. */
export function requirePortMappings(conflist: CniConflist): void {
  if (!supportsPortMappings(conflist)) {
    throw new UsageError(
      `-p/--publish: network "${conflist.name}" has no plugin with the portMappings capability; add {"type": "portmap", "capabilities": {"portMappings": true}} to its plugins`,
    );
  }
}
