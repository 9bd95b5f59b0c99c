/** `--disk-format` of `import` and `pull` (not `--format`: that is the output format everywhere). */
import { Option } from 'clipanion';
import { UsageError } from '@cocoon/common/errors';
import { DISK_FORMATS, type DiskFormat } from './check.ts';

export function diskFormatOption() {
  return Option.String('--disk-format', 'auto', { description: 'a disk image\'s format: auto, qcow2 or raw (raw without a partition table must be said)' });
}

/** The flag's value, checked. */
export function parseDiskFormat(value: string): DiskFormat {
  if ((DISK_FORMATS as readonly string[]).includes(value)) return value as DiskFormat;
  throw new UsageError(`--disk-format: "${value}" is not one of ${DISK_FORMATS.join(', ')}`);
}
