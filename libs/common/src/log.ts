/**
 * Logging: pino to stderr at the configured level and to `<log_dir>/cocoon.log` (info, or
 * lower when asked). The file rotates by size (count and age limits on the generations,
 * `log_max_*` in the config) when a process opens it: cocoon processes are short-lived, so
 * open time is the natural point, and a kernel lock makes concurrent openers rotate once
 * (log-rotate.ts). The logger is created on first use so commands that never log do not
 * pay for pino at start-up.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { DEFAULT_ROTATION, rotateLocked, type RotationPolicy } from './log-rotate.ts';
import { logSettings } from './log-settings.ts';
import type { LogLevel } from './schemas/config.ts';

export type { Logger } from 'pino';

/** The engine log's name in the log dir. */
export const ENGINE_LOG = 'cocoon.log';

let current: { logger: Logger; generation: number } | undefined;

export { configureLogging } from './log-settings.ts';

/** The process logger, built on first use with the settings of `configureLogging`. */
export function log(): Logger {
  const { generation } = logSettings();
  if (!current || current.generation !== generation) current = { logger: build(), generation };
  return current.logger;
}

function build(): Logger {
  const { settings } = logSettings();
  const stderrLevel: pino.Level = settings.level === 'silent' ? 'fatal' : settings.level;
  const streams: pino.StreamEntry[] = [{ level: stderrLevel, stream: pino.destination({ dest: 2, sync: true }) }];
  const file = settings.logDir ? openLogFile(settings.logDir, settings.rotation ?? DEFAULT_ROTATION) : null;
  const fileLevel: pino.Level = levelValue(settings.level) < levelValue('info') ? stderrLevel : 'info';
  if (file) streams.push({ level: fileLevel, stream: pino.destination({ dest: file, sync: true, mkdir: true }) });
  const min = streams.reduce((lo, s) => (levelValue(s.level as LogLevel) < levelValue(lo) ? (s.level as LogLevel) : lo), 'fatal' as LogLevel);
  return pino({ level: settings.level === 'silent' && !file ? 'silent' : min, base: { tool: settings.tool, pid: process.pid } }, pino.multistream(streams));
}

function openLogFile(dir: string, rotation: RotationPolicy): string | null {
  const file = join(dir, ENGINE_LOG);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    rotateLocked(file, rotation);
    return file;
  } catch {
    // NOTE: an unwritable log dir (e.g. a non-root `vm list`) only loses the file copy.
    return null;
  }
}

function levelValue(level: LogLevel): number {
  return level === 'silent' ? Infinity : pino.levels.values[level] ?? 30;
}
