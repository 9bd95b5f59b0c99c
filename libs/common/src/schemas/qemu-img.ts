/** `qemu-img info --output json`: the fields cocoon reads. */
import { z } from 'zod';

export const QemuImgInfoSchema = z.looseObject({
  format: z.string(),
  'virtual-size': z.number().int().nonnegative(),
  'actual-size': z.number().int().nonnegative().optional(),
  'backing-filename': z.string().optional(),
  'format-specific': z.looseObject({ type: z.string(), data: z.looseObject({ compat: z.string().optional() }).optional() }).optional(),
});
export type QemuImgInfo = z.infer<typeof QemuImgInfoSchema>;
