/** QEMU Machine Protocol messages as cocoon reads them (one JSON object per line). */
import { z } from 'zod';

export const QmpGreetingSchema = z.object({
  QMP: z.object({ version: z.object({ qemu: z.object({ major: z.number(), minor: z.number(), micro: z.number() }) }).loose() }).loose(),
});

export const QmpReturnSchema = z.object({ return: z.unknown(), id: z.unknown().optional() });
export const QmpErrorSchema = z.object({ error: z.object({ class: z.string(), desc: z.string() }), id: z.unknown().optional() });
export const QmpEventSchema = z.object({ event: z.string(), data: z.unknown().optional(), timestamp: z.unknown().optional() });

export const QmpMessageSchema = z.union([QmpGreetingSchema, QmpReturnSchema, QmpErrorSchema, QmpEventSchema]);
export type QmpMessage = z.infer<typeof QmpMessageSchema>;

/** `query-status` result. */
export const QmpStatusSchema = z.object({ running: z.boolean(), status: z.string() }).loose();

/** `VSERPORT_CHANGE` data: the guest opened or closed a virtio-serial port. */
export const QmpVserportChangeSchema = z.object({ id: z.string(), open: z.boolean() });

/** `query-chardev` result: `frontend-open` is whether the guest has the device (a serial port) open. */
export const QmpChardevListSchema = z.array(z.object({ label: z.string(), filename: z.string(), 'frontend-open': z.boolean() }).loose());
