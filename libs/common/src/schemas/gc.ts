/** `cocoon gc --format json`: what one garbage-collection cycle removed (or would remove). */
import { z } from 'zod';

/** One thing collected: a file, a directory, a record, a process, a network allocation. */
export const GcItemSchema = z.object({
  /** The module that found it: `images`, `vms`, `tmp`, `logs`, `networks`, `snapshots`. */
  module: z.string(),
  /** What it is: `blob`, `boot-dir`, `run-dir`, `log-dir`, `record`, `temp`, `log` … */
  kind: z.string(),
  /** A path, or an ID for a record. */
  target: z.string(),
  /** Bytes freed on disk (allocated blocks, so a sparse disk counts what it really used). */
  bytes: z.number().int().nonnegative(),
  /** Why it is garbage. */
  reason: z.string(),
});
export type GcItem = z.infer<typeof GcItemSchema>;

export const GcReportSchema = z.object({
  dry_run: z.boolean(),
  /** The modules that took part. */
  modules: z.array(z.string()),
  removed: z.array(GcItemSchema),
  bytes_freed: z.number().int().nonnegative(),
  /** Items that could not be removed, with the reason. */
  errors: z.array(z.object({ target: z.string(), error: z.string() })),
  /** Things gc saw and left alone on purpose. */
  notices: z.array(z.string()),
});
export type GcReport = z.infer<typeof GcReportSchema>;
