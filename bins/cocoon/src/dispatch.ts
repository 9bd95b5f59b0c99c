/**
 * Git-style dispatch: `cocoon image …` runs `cocoon-image …`. The sub-tool is found next
 * to the running executable first, then on PATH. stdio is inherited, global flags travel
 * as `COCOON_*` variables, the exit code is passed through and a signal that killed the
 * child is re-raised on this process.
 */
import { globalsToEnv, type GlobalValues } from '@cocoon/common/globals';
import { spawn } from '@cocoon/common/exec';
import { findTool } from '@cocoon/common/tools';

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
