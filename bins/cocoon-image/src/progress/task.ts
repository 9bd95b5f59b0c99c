/** The state of one progress task, shared by the NDJSON and terminal sinks. */
import type { ProgressPhase } from '@cocoon/common/schemas/progress';

/** Internal state of a task, shared by the sinks. */
export interface TaskState {
  image: string;
  item: string;
  phase: ProgressPhase;
  bytes: number;
  total: number | null;
  started: number;
  ended: number | null;
  cached: boolean;
}

/** Average rate (bytes/s) and seconds left of a task, or null while unknown. */
export function rateOf(t: TaskState, now = Date.now()): { rate: number | null; eta: number | null } {
  const secs = ((t.ended ?? now) - t.started) / 1000;
  const rate = secs > 0.05 && t.bytes > 0 ? t.bytes / secs : null;
  const eta = rate && t.total !== null && t.ended === null ? Math.max(0, (t.total - t.bytes) / rate) : null;
  return { rate, eta };
}

