/** Flag parsing shared by the VM commands. */
import { chooseFormat } from '@cocoon/common/cli';
import { UsageError } from '@cocoon/common/errors';

/** Parses a positive number of seconds into milliseconds. */
export function parseSeconds(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`${flag}: "${value}" must be a number of seconds ≥ 0`);
  return Math.round(n * 1000);
}

/**
 * Runs `fn` for every ref like `docker rm a b`: a failing ref does not stop the others.
 * Each success prints the VM ID (with `json`, one `{"succeeded":[IDs]}` at the end, as the
 * Go cocoon's `-o json`); each failure but the last is printed as one line and the last is
 * rethrown, so the runner prints it and exits with its code.
 */
export async function forEachRef(
  refs: readonly string[],
  ctx: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; tool: string },
  fn: (ref: string) => Promise<{ id: string }>,
  json = false,
): Promise<number> {
  let failure: unknown = null;
  const succeeded: string[] = [];
  for (const ref of refs) {
    try {
      const { id } = await fn(ref);
      succeeded.push(id);
      if (!json) ctx.stdout.write(`${id}\n`);
    } catch (err) {
      if (failure !== null) ctx.stderr.write(`${ctx.tool}: ${(failure as Error).message}\n`);
      failure = err;
    }
  }
  if (json) ctx.stdout.write(`${JSON.stringify({ succeeded })}\n`);
  if (failure !== null) throw failure;
  return 0;
}

/** `-o json` on start/stop/rm: `{"succeeded":[IDs]}` instead of one ID a line. */
export function wantsJson(format: string | undefined, output: string | undefined): boolean {
  return chooseFormat(format, output, ['id', 'table', 'json'] as const, 'id') === 'json';
}
