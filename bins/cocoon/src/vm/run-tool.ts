/** Runs another cocoon tool (`cocoon-image`, `cocoon-snap`) with this command's global flags, capturing its stdout. */
import { run } from '@cocoon/common/exec';
import { globalsToEnv, type GlobalValues } from '@cocoon/common/globals';
import { findTool } from '@cocoon/common/tools';

/** `tool args…` to completion; its stdout is returned, a failure is a typed error with its last stderr line. */
export async function runTool(tool: string, args: string[], ctx: { env: NodeJS.ProcessEnv; globals: GlobalValues }): Promise<string> {
  const env = Object.fromEntries(Object.entries(ctx.env).filter((e): e is [string, string] => typeof e[1] === 'string'));
  return (await run(findTool(tool), args, { env: { ...env, ...globalsToEnv(ctx.globals) } })).stdout;
}
