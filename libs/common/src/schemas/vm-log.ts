/**
 * Time marks of a VM's console log (`<log_dir>/<id>/console.marks`, one JSON object a
 * line). A serial console log carries no per-line times; a mark says how long the log
 * was at a moment (each start, stop and rotation), which is what `vm logs --since` uses.
 */
import { z } from 'zod';
import { TimestampSchema } from './common.ts';

export const ConsoleMarkSchema = z.object({
  time: TimestampSchema,
  /** Size of the console log at `time` (bytes). */
  offset: z.number().int().nonnegative(),
  event: z.enum(['start', 'stop', 'rotate']),
});
export type ConsoleMark = z.infer<typeof ConsoleMarkSchema>;
