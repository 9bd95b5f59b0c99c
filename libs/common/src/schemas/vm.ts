/** VM records (`<root>/vms/index.json`). Runtime files derive from `layout.vmRunDir(id)`. */
import { z } from 'zod';
import { HypervisorKindSchema } from './config.ts';
import { DigestSchema, IdSchema, TimestampSchema } from './common.ts';
import { ResolvedDiskSchema } from './image.ts';

export const VM_STATES = ['creating', 'created', 'running', 'stopped', 'error'] as const;
export const VmStateSchema = z.enum(VM_STATES);
export type VmState = z.infer<typeof VmStateSchema>;

export const VmRecordSchema = z.object({
  id: IdSchema,
  name: z.string().min(1),
  state: VmStateSchema,
  hypervisor: HypervisorKindSchema,
  accel: z.enum(['kvm', 'tcg']),
  image: z.object({ ref: z.string(), id: IdSchema, digest: DigestSchema }),
  cpu: z.number().int().positive(),
  /** Bytes. */
  memory: z.number().int().positive(),
  /** Bytes of the writable (COW) disk. */
  storage: z.number().int().positive(),
  nics: z.number().int().nonnegative(),
  boot: z.object({ kernel: z.string().nullable(), initrd: z.string().nullable(), firmware: z.string().nullable(), cmdline: z.string() }),
  /** Every disk in attach order: image layers, then the COW disk. */
  disks: z.array(ResolvedDiskSchema),
  /** PID of the hypervisor while running. */
  pid: z.number().int().positive().nullable(),
  created_at: TimestampSchema,
  started_at: TimestampSchema.nullable(),
  stopped_at: TimestampSchema.nullable(),
  /** Why the VM is in `error`. */
  error: z.string().nullable(),
  /** Whether the VM has started once (a cloud image's NoCloud seed is attached only before that). */
  booted: z.boolean().default(false),
  /** Guest CID of the VM's vhost-vsock device (QEMU on hosts with /dev/vhost-vsock), else null. */
  vsock_cid: z.number().int().min(3).nullable().default(null),
});
export type VmRecord = z.infer<typeof VmRecordSchema>;
