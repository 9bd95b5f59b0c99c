/**
 * Config resolution: flag > environment > config file > default. The front end turns
 * its global flags into `COCOON_*` variables, so every sub-tool resolves the same config.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidDataError, UsageError } from './errors.ts';
import { GLOBAL_FLAGS, type GlobalKey, type GlobalValues } from './globals.ts';
import { ConfigFileSchema, LogLevelSchema, type Config, type ConfigFile } from './schemas/config.ts';
import { parseDuration, parseSize } from './units.ts';

export const DEFAULT_CONFIG_FILE = '/etc/cocoon/cocoon.json';
/** Cloud Hypervisor's UEFI firmware as Debian's `cloudhv-efi-x86-64` installs it. */
export const CLOUDHV_FIRMWARE = '/usr/share/cloud-hypervisor/CLOUDHV.fd';

/** Resolves the config from flags, `env` and the config file. */
export function resolveConfig(globals: GlobalValues = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const pick = (key: GlobalKey): string | undefined => {
    const spec = GLOBAL_FLAGS.find((g) => g.key === key);
    return globals[key] ?? (spec ? env[spec.env] : undefined) ?? undefined;
  };
  const explicitFile = pick('config_file');
  const configFile = explicitFile ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : null);
  const file: ConfigFile = configFile ? readConfigFile(configFile) : {};
  const root = pick('root_dir') ?? file.root_dir ?? '/var/lib/cocoon';
  const level = pick('log_level') ?? file.log_level ?? 'warn';
  const parsedLevel = LogLevelSchema.safeParse(level);
  if (!parsedLevel.success) {
    throw new UsageError(`--log-level: "${level}" is not one of ${LogLevelSchema.options.join(', ')}`);
  }
  const dns = pick('dns');
  const rotation = logRotation(env, file);
  return {
    config_file: configFile,
    root_dir: root,
    run_dir: pick('run_dir') ?? file.run_dir ?? join(root, 'run'),
    log_dir: pick('log_dir') ?? file.log_dir ?? '/var/log/cocoon',
    log_level: parsedLevel.data,
    cni_conf_dir: pick('cni_conf_dir') ?? file.cni_conf_dir ?? '/etc/cni/net.d',
    cni_bin_dir: pick('cni_bin_dir') ?? file.cni_bin_dir ?? '/opt/cni/bin:/usr/lib/cni',
    dns: dns !== undefined ? dns.split(',').map((s) => s.trim()).filter(Boolean) : (file.dns ?? ['8.8.8.8', '1.1.1.1']),
    default_hypervisor: file.default_hypervisor ?? null,
    accel: file.accel ?? 'auto',
    stop_timeout_seconds: file.stop_timeout_seconds ?? 30,
    ch_firmware: file.ch_firmware ?? CLOUDHV_FIRMWARE,
    ...rotation,
  };
}

/** Log rotation settings: `COCOON_LOG_MAX_*` > config file > default (10M, 5 files, 30 days). */
function logRotation(env: NodeJS.ProcessEnv, file: ConfigFile): Pick<Config, 'log_max_size' | 'log_max_files' | 'log_max_age'> {
  const size = env.COCOON_LOG_MAX_SIZE ?? file.log_max_size ?? DEFAULT_LOG_ROTATION.max_size;
  const files = env.COCOON_LOG_MAX_FILES ?? file.log_max_files ?? DEFAULT_LOG_ROTATION.max_files;
  const age = env.COCOON_LOG_MAX_AGE ?? file.log_max_age ?? DEFAULT_LOG_ROTATION.max_age;
  const count = Number(files);
  if (!Number.isInteger(count) || count < 0) throw new UsageError(`log_max_files: "${files}" must be a whole number ≥ 0`);
  return {
    log_max_size: typeof size === 'number' ? size : parseSize(size, 'log_max_size', 4096),
    log_max_files: count,
    log_max_age: typeof age === 'number' ? age : parseDuration(age, 'log_max_age'),
  };
}

/** Defaults of the log rotation settings. */
export const DEFAULT_LOG_ROTATION = { max_size: '10M', max_files: 5, max_age: '30d' } as const;

function readConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`--config: cannot read ${path}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InvalidDataError(`config file ${path}: not valid JSON (${(err as Error).message})`);
  }
  const parsed = ConfigFileSchema.safeParse(json);
  if (!parsed.success) {
    throw new InvalidDataError(`config file ${path}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

export { extractGlobalFlags, globalsToEnv, GLOBAL_FLAGS, type GlobalValues } from './globals.ts';
