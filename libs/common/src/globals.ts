/**
 * Global flags (`--root-dir` …) and the `COCOON_*` variables that carry them to
 * sub-tools. Kept free of zod so that start-up does not pay for schemas.
 */
import { UsageError } from './errors.ts';

/** A global flag: its name, the env variable that carries it, and the config key. */
export const GLOBAL_FLAGS = [
  { flag: '--config', env: 'COCOON_CONFIG', key: 'config_file' },
  { flag: '--root-dir', env: 'COCOON_ROOT_DIR', key: 'root_dir' },
  { flag: '--run-dir', env: 'COCOON_RUN_DIR', key: 'run_dir' },
  { flag: '--log-dir', env: 'COCOON_LOG_DIR', key: 'log_dir' },
  { flag: '--log-level', env: 'COCOON_LOG_LEVEL', key: 'log_level' },
  { flag: '--cni-conf-dir', env: 'COCOON_CNI_CONF_DIR', key: 'cni_conf_dir' },
  { flag: '--cni-bin-dir', env: 'COCOON_CNI_BIN_DIR', key: 'cni_bin_dir' },
  { flag: '--dns', env: 'COCOON_DNS', key: 'dns' },
] as const;

export type GlobalKey = (typeof GLOBAL_FLAGS)[number]['key'];
export type GlobalValues = Partial<Record<GlobalKey, string>>;

/**
 * Removes global flags (`--root-dir X` or `--root-dir=X`) from anywhere before a `--`
 * and returns them with the remaining argv.
 */
export function extractGlobalFlags(argv: readonly string[]): { globals: GlobalValues; rest: string[] } {
  const globals: GlobalValues = {};
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    const [name, inline] = arg.startsWith('--') ? splitOnce(arg, '=') : [arg, undefined];
    const spec = GLOBAL_FLAGS.find((g) => g.flag === name);
    if (!spec) {
      rest.push(arg);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined || value === '') throw new UsageError(`${spec.flag} needs a value`);
    globals[spec.key] = value;
  }
  return { globals, rest };
}

/** The environment a sub-tool needs to resolve the same config as its parent. */
export function globalsToEnv(globals: GlobalValues): Record<string, string> {
  const env: Record<string, string> = {};
  for (const g of GLOBAL_FLAGS) {
    const v = globals[g.key];
    if (v !== undefined) env[g.env] = v;
  }
  return env;
}

function splitOnce(s: string, sep: string): [string, string | undefined] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}
