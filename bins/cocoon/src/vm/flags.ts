/** Flag parsing shared by the VM commands. */
import { UsageError } from '@cocoon/common/errors';

/** Parses a positive number of seconds into milliseconds. */
export function parseSeconds(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`${flag}: "${value}" must be a number of seconds ≥ 0`);
  return Math.round(n * 1000);
}

/**
 * Runs `fn` for every ref like `docker rm a b`: a failing ref does not stop the others.
 * Each success prints the VM ID; each failure but the last is printed as one line and the
 * last is rethrown, so the runner prints it and exits with its code.
 */
export async function forEachRef(
  refs: readonly string[],
  ctx: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; tool: string },
  fn: (ref: string) => Promise<{ id: string }>,
): Promise<number> {
  let failure: unknown = null;
  for (const ref of refs) {
    try {
      ctx.stdout.write(`${(await fn(ref)).id}\n`);
    } catch (err) {
      if (failure !== null) ctx.stderr.write(`${ctx.tool}: ${(failure as Error).message}\n`);
      failure = err;
    }
  }
  if (failure !== null) throw failure;
  return 0;
}
