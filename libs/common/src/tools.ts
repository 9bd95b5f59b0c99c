/**
 * Finding cocoon's own executables. The packaged layout puts every tool beside the
 * running executable (`dist/bin/cocoon`, `dist/bin/cocoon-agent` → `cocoon`); from source
 * (tsx) the script's folder and PATH are the fallbacks.
 */
import { accessSync, constants, realpathSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { MissingDependencyError } from './errors.ts';

/** Folders beside the running executable and script, symlinks resolved too. */
export function selfDirs(): string[] {
  const self = [process.execPath, process.argv[1]].filter((p): p is string => Boolean(p));
  const dirs = new Set<string>();
  for (const p of self) {
    dirs.add(dirname(p));
    try {
      dirs.add(dirname(realpathSync(p)));
    } catch {
      // not a file (e.g. `node -e`)
    }
  }
  return [...dirs];
}

/** Where `tool` is: beside this executable (or script), then on PATH. */
export function findTool(tool: string, env: NodeJS.ProcessEnv = process.env): string {
  for (const dir of [...selfDirs(), ...(env.PATH ?? '').split(delimiter).filter(Boolean)]) {
    const candidate = join(dir, tool);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  throw new MissingDependencyError(`${tool} not found next to cocoon or on PATH; reinstall cocoon (npm run build)`);
}
