/**
 * Git-style dispatch: `cocoon image …` runs `cocoon-image …`. The sub-tool is found next
 * to the running executable first, then on PATH. stdio is inherited, global flags travel
 * as `COCOON_*` variables, the exit code is passed through and a signal that killed the
 * child is re-raised on this process.
 */
import { accessSync, constants, realpathSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { globalsToEnv, type GlobalValues } from '@cocoon/common/globals';
import { MissingDependencyError } from '@cocoon/common/errors';
import { spawn } from '@cocoon/common/exec';

/** Where `tool` is: beside this executable (or script), then on PATH. */
export function findTool(tool: string, env: NodeJS.ProcessEnv = process.env): string {
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
  for (const dir of [...dirs, ...(env.PATH ?? '').split(delimiter).filter(Boolean)]) {
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

/** Runs `tool args…` with inherited stdio and returns its exit code (signals re-raised). */
export async function dispatch(tool: string, args: string[], globals: GlobalValues): Promise<number> {
  const file = findTool(tool);
  const child = spawn(file, args, {
    stdio: 'inherit',
    reject: false,
    env: globalsToEnv(globals),
    extendEnv: true,
    argv0: tool,
  });
  // NOTE: the child shares our terminal, so Ctrl-C reaches it directly; we only must not die first.
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const).map((s) => [s, forward(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  const result = await child;
  for (const [s, h] of handlers) process.off(s, h);
  if (result.signal) {
    process.kill(process.pid, result.signal);
    return 128 + (signalNumber(result.signal) ?? 0);
  }
  return result.exitCode ?? 1;
}

function signalNumber(signal: string): number | undefined {
  const table: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 };
  return table[signal];
}
