/**
 * Snapshot records (`<root>/snapshots/index.json`), as far as other tools read them today:
 * which image a snapshot was taken from (`image rm` refuses to delete it). The snapshot tool
 * owns the full record; unknown keys pass through so this stays valid as it grows.
 */
import { z } from 'zod';
import { IdSchema } from './common.ts';

export const SnapshotRefSchema = z.looseObject({
  id: IdSchema,
  name: z.string().min(1),
  /** The image the snapshotted VM was created from. */
  image: z.looseObject({ id: IdSchema }),
});
export type SnapshotRef = z.infer<typeof SnapshotRefSchema>;
