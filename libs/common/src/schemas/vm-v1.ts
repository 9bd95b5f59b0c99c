/**
 * Reading VM indexes written by cocoon 0.1 (index version 1), whose records had `name`,
 * `cpu`, `memory`… at the top level. They are upgraded to the current shape on read and
 * written back in it by the next update, so an existing host keeps its VMs.
 */
import { z } from 'zod';
import { HypervisorKindSchema } from './config.ts';
import { DigestSchema, IdSchema, TimestampSchema } from './common.ts';
import type { StorageConfig, VmRecord } from './vm.ts';

const V1RecordSchema = z.object({
  id: IdSchema,
  name: z.string(),
  state: z.enum(['creating', 'created', 'running', 'stopped', 'error']),
  hypervisor: HypervisorKindSchema,
  accel: z.enum(['kvm', 'tcg']),
  image: z.object({ ref: z.string(), id: IdSchema, digest: DigestSchema }),
  cpu: z.number(),
  memory: z.number(),
  storage: z.number(),
  nics: z.number(),
  boot: z.object({ kernel: z.string().nullable(), initrd: z.string().nullable(), firmware: z.string().nullable(), cmdline: z.string() }),
  disks: z.array(z.object({ path: z.string(), serial: z.string(), read_only: z.boolean(), format: z.enum(['raw', 'qcow2']) })),
  pid: z.number().nullable(),
  created_at: TimestampSchema,
  started_at: TimestampSchema.nullable(),
  stopped_at: TimestampSchema.nullable(),
  error: z.string().nullable(),
  booted: z.boolean().default(false),
  vsock_cid: z.number().nullable().default(null),
});

/** The current record for a version-1 record (the cloud seed disk was implicit then). */
export function upgradeVmRecordV1(item: unknown, seedDiskPath: (id: string) => string, apiSocket: (id: string) => string): VmRecord {
  const v1 = V1RecordSchema.parse(item);
  const cloud = v1.boot.firmware !== null && v1.boot.kernel === null;
  const storage: StorageConfig[] = v1.disks.map((d) => ({
    path: d.path,
    ro: d.read_only,
    serial: d.serial,
    role: d.read_only ? 'layer' : 'cow',
    format: d.format,
  }));
  if (cloud) storage.push({ path: seedDiskPath(v1.id), ro: true, serial: 'cidata', role: 'cidata', format: 'raw' });
  return {
    id: v1.id,
    hypervisor: v1.hypervisor,
    state: v1.state,
    config: { name: v1.name, cpu: v1.cpu, memory: v1.memory, storage: v1.storage, image: v1.image.ref, image_digest: v1.image.digest, image_type: cloud ? 'cloudimg' : 'oci' },
    pid: v1.pid ?? 0,
    socket_path: apiSocket(v1.id),
    storage_configs: storage,
    first_booted: v1.booted,
    created_at: v1.created_at,
    updated_at: v1.stopped_at ?? v1.started_at ?? v1.created_at,
    ...(v1.started_at ? { started_at: v1.started_at } : {}),
    ...(v1.stopped_at ? { stopped_at: v1.stopped_at } : {}),
    accel: v1.accel,
    image_id: v1.image.id,
    nics: v1.nics,
    boot: v1.boot,
    ...(v1.error ? { error: v1.error } : {}),
    ...(v1.vsock_cid !== null ? { vsock_cid: v1.vsock_cid } : {}),
  };
}
