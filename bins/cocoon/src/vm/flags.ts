/** Flag parsing shared by the VM commands. */
import { UsageError } from '@cocoon/common/errors';

/** Parses a positive number of seconds into milliseconds. */
export function parseSeconds(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`${flag}: "${value}" must be a number of seconds ≥ 0`);
  return Math.round(n * 1000);
}
