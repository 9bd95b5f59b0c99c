/**
 * Progress events: what `cocoon-image pull|import --progress json` writes on stderr, one JSON
 * object per line (NDJSON). stdout keeps only the final result.
 */
import { z } from 'zod';
import { TimestampSchema } from './common.ts';

export const PROGRESS_PHASES = ['download', 'convert'] as const;
export const PROGRESS_STATES = ['start', 'progress', 'done', 'cached'] as const;

export const ProgressEventSchema = z.object({
  type: z.literal('progress'),
  ts: TimestampSchema,
  /** The image being pulled or imported (its record name). */
  image: z.string(),
  /** What moves: a layer digest, or the source of a cloud image. */
  item: z.string(),
  phase: z.enum(PROGRESS_PHASES),
  /** `cached`: the store already has it, nothing to do. */
  state: z.enum(PROGRESS_STATES),
  /** Bytes done so far in this phase (downloads: bytes received). */
  bytes: z.number().int().nonnegative(),
  /** Bytes expected, when known. */
  total: z.number().int().nonnegative().nullable(),
  /** Average bytes per second since the phase started. */
  rate: z.number().nonnegative().nullable(),
  /** Seconds left at that rate, when the total is known. */
  eta_s: z.number().nonnegative().nullable(),
  /** Milliseconds since the phase started. */
  elapsed_ms: z.number().int().nonnegative(),
});
export type ProgressEvent = z.infer<typeof ProgressEventSchema>;
export type ProgressPhase = (typeof PROGRESS_PHASES)[number];
