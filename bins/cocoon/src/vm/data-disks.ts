/**
 * Data disks (`--data-disk size=20G[,name=N][,fstype=ext4|none][,mount=/mnt/x][,directio=on|off|auto]`,
 * the Go cocoon's syntax and defaults): a sparse raw file per disk in the VM's run dir,
 * formatted ext4 unless `fstype=none`, attached with the serial `cocoon-data-<name>` and
 * mounted by the guest: the default guest's init reads `cocoon.data=` on the kernel command
 * line, cloud images get cloud-init `mounts`.
 */
import { isAbsolute, join, normalize } from 'node:path';
import { UsageError } from '@cocoon/common/errors';
import { DATA_DISK_NAME, type StorageConfig } from '@cocoon/common/schemas/vm';
import { parseSize } from '@cocoon/common/units';
import { createExt4Disk, createSparseFile } from './cow-disk.ts';

/** Below this mkfs.ext4 is unreliable on small sparse files (the Go cocoon's minimum). */
export const MIN_DATA_DISK = 16 * 2 ** 20;
/** Serial prefix of data disks. */
export const DATA_SERIAL_PREFIX = 'cocoon-data-';
/** Linux shows only the first 20 bytes of a virtio-blk serial (`/sys/block/vdX/serial`, `/dev/disk/by-id`). */
export const VIRTIO_SERIAL_VISIBLE = 20;

/** One parsed `--data-disk`. */
export interface DataDiskSpec {
  name: string;
  size: number;
  fstype: 'ext4' | 'none';
  /** Empty: not mounted. */
  mount: string;
  /** Absent: follows the VM's `--no-direct-io`. */
  directIo?: boolean;
}

/** Parses every `--data-disk` value, fills the defaults and checks the set (names unique, serials distinguishable). */
export function parseDataDisks(values: readonly string[]): DataDiskSpec[] {
  const parsed = values.map(parseOne);
  const used = new Set<string>();
  for (const d of parsed) {
    if (d.name === undefined) continue;
    if (used.has(d.name)) throw new UsageError(`--data-disk: name "${d.name}" is given twice`);
    used.add(d.name);
  }
  let auto = 1;
  const specs = parsed.map((d): DataDiskSpec => {
    let name = d.name;
    while (name === undefined) {
      const candidate = `data${auto++}`;
      if (!used.has(candidate)) name = candidate;
    }
    used.add(name);
    const fstype = d.fstype ?? 'ext4';
    const mount = d.mount ?? (fstype === 'none' ? '' : `/mnt/${name}`);
    if (fstype === 'none' && mount !== '') throw new UsageError(`--data-disk ${name}: fstype=none cannot be mounted (drop mount=, or use fstype=ext4)`);
    return { name, size: d.size, fstype, mount, ...(d.directIo === undefined ? {} : { directIo: d.directIo }) };
  });
  const visible = new Map<string, string>();
  for (const d of specs) {
    const seen = dataSerial(d.name).slice(0, VIRTIO_SERIAL_VISIBLE);
    const other = visible.get(seen);
    if (other !== undefined) throw new UsageError(`--data-disk: "${other}" and "${d.name}" look the same to the guest (it sees only "${seen}" of a disk serial); make them differ in the first ${VIRTIO_SERIAL_VISIBLE - DATA_SERIAL_PREFIX.length} characters`);
    visible.set(seen, d.name);
  }
  return specs;
}

type Partial = { name?: string; size: number; fstype?: 'ext4' | 'none'; mount?: string; directIo?: boolean };

function parseOne(value: string): Partial {
  if (value.trim() === '') throw new UsageError('--data-disk: empty value (want size=20G[,name=N][,fstype=ext4|none][,mount=/mnt/x][,directio=on|off|auto])');
  const out: { name?: string; size?: number; fstype?: 'ext4' | 'none'; mount?: string; directIo?: boolean } = {};
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) throw new UsageError(`--data-disk: "${part}" is not key=value`);
    const key = part.slice(0, eq).trim();
    const val = part.slice(eq + 1).trim();
    if (key === 'size') out.size = parseSize(val, '--data-disk size', MIN_DATA_DISK);
    else if (key === 'name') {
      if (!DATA_DISK_NAME.test(val) || val.startsWith('cocoon-')) throw new UsageError(`--data-disk: invalid name "${val}" (a lowercase letter, then up to 19 of a-z 0-9 _ -; not starting with cocoon-)`);
      out.name = val;
    } else if (key === 'fstype') {
      if (val !== 'ext4' && val !== 'none') throw new UsageError(`--data-disk: fstype "${val}" is not ext4 or none`);
      out.fstype = val;
    } else if (key === 'mount') out.mount = checkMount(val);
    else if (key === 'directio') {
      if (val === 'on') out.directIo = true;
      else if (val === 'off') out.directIo = false;
      else if (val !== 'auto') throw new UsageError(`--data-disk: directio must be on, off or auto, not "${val}"`);
    } else throw new UsageError(`--data-disk: unknown key "${key}" (size, name, fstype, mount, directio)`);
  }
  if (out.size === undefined) throw new UsageError(`--data-disk: size= is required in "${value}"`);
  return { ...out, size: out.size };
}

/** A mount point must be absolute and fit the `cocoon.data=` / fstab syntax (no spaces, commas or colons). */
function checkMount(value: string): string {
  if (value === '') return '';
  if (!isAbsolute(value) || /[\s,:"'\\]/.test(value) || normalize(value) !== value || value === '/') {
    throw new UsageError(`--data-disk: mount "${value}" must be an absolute, normalised path other than / without spaces, commas, colons, quotes or backslashes`);
  }
  return value;
}

/** The virtio serial of data disk `name`. */
export function dataSerial(name: string): string {
  return `${DATA_SERIAL_PREFIX}${name}`;
}

/** The storage records of `specs` (files under `runDir`, named as the Go cocoon names them). */
export function dataDiskConfigs(runDir: string, specs: readonly DataDiskSpec[]): StorageConfig[] {
  return specs.map((d) => ({
    path: join(runDir, `data-${d.name}.raw`),
    ro: false,
    serial: dataSerial(d.name),
    role: 'data',
    ...(d.mount ? { mount_point: d.mount } : {}),
    fstype: d.fstype,
    ...(d.directIo === undefined ? {} : { direct_io: d.directIo }),
    format: 'raw',
  }));
}

/** Creates the disk files (sparse; ext4 unless fstype=none); each failure removes its own file. */
export async function createDataDisks(specs: readonly DataDiskSpec[], configs: readonly StorageConfig[]): Promise<void> {
  for (const [i, d] of specs.entries()) {
    const path = configs[i]!.path;
    if (d.fstype === 'ext4') await createExt4Disk(path, d.size, d.name);
    else await createSparseFile(path, d.size);
  }
}

/**
 * The `cocoon.data=` kernel argument (the default guest's init mounts these): one
 * `<serial>:<mount point>:<fstype>` per mounted data disk, comma-separated; none → no argument.
 */
export function dataCmdline(disks: readonly StorageConfig[]): string | null {
  const mounted = disks.filter((d) => d.role === 'data' && d.mount_point && d.fstype === 'ext4');
  if (mounted.length === 0) return null;
  return `cocoon.data=${mounted.map((d) => `${d.serial}:${d.mount_point}:${d.fstype}`).join(',')}`;
}
