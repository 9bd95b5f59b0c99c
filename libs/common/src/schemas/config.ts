/** The config file (`--config`, `COCOON_CONFIG`, `/etc/cocoon/cocoon.json`) and the resolved config. */
import { z } from 'zod';
import { LOG_LEVELS, type LogLevel } from '../log-settings.ts';

export { LOG_LEVELS, type LogLevel };
export const LogLevelSchema = z.enum(LOG_LEVELS);

export const HYPERVISORS = ['cloud-hypervisor', 'firecracker', 'qemu'] as const;
export const HypervisorKindSchema = z.enum(HYPERVISORS);
export type HypervisorKind = z.infer<typeof HypervisorKindSchema>;

export const AccelSchema = z.enum(['auto', 'kvm', 'tcg']);
export type Accel = z.infer<typeof AccelSchema>;

/** Keys are snake_case like the Go cocoon's config. Every key is optional. */
export const ConfigFileSchema = z
  .object({
    root_dir: z.string().min(1),
    run_dir: z.string().min(1),
    log_dir: z.string().min(1),
    log_level: LogLevelSchema,
    cni_conf_dir: z.string().min(1),
    cni_bin_dir: z.string().min(1),
    dns: z.array(z.string().min(1)),
    default_hypervisor: HypervisorKindSchema,
    accel: AccelSchema,
    /** Seconds `vm stop` gives the guest before SIGTERM (the Go cocoon's key; `--timeout` overrides). */
    stop_timeout_seconds: z.number().int().nonnegative(),
    /** Cloud Hypervisor's UEFI firmware (default: where Debian's cloudhv-efi-x86-64 puts CLOUDHV.fd). */
    ch_firmware: z.string().min(1),
    /** Rotate a log past this size: bytes, or a size like `10M`. */
    log_max_size: z.union([z.number().int().positive(), z.string().min(1)]),
    /** Rotated generations kept per log (0: none, the log is cut). */
    log_max_files: z.number().int().nonnegative(),
    /** Rotated generations older than this are deleted: seconds, or a duration like `30d` (0: no limit). */
    log_max_age: z.union([z.number().nonnegative(), z.string().min(1)]),
  })
  .partial()
  .strict();
export type ConfigFile = z.infer<typeof ConfigFileSchema>;

export const ConfigSchema = z.object({
  config_file: z.string().nullable(),
  root_dir: z.string(),
  run_dir: z.string(),
  log_dir: z.string(),
  log_level: LogLevelSchema,
  cni_conf_dir: z.string(),
  cni_bin_dir: z.string(),
  dns: z.array(z.string()),
  default_hypervisor: HypervisorKindSchema.nullable(),
  accel: AccelSchema,
  stop_timeout_seconds: z.number().int().nonnegative(),
  ch_firmware: z.string(),
  /** Bytes. */
  log_max_size: z.number().int().positive(),
  log_max_files: z.number().int().nonnegative(),
  /** Seconds; 0 = no limit. */
  log_max_age: z.number().nonnegative(),
});
export type Config = z.infer<typeof ConfigSchema>;
