/**
 * Logging: pino to stderr at the configured level and to `<log_dir>/cocoon.log` (info, or
 * lower when asked). The file rotates by size when a process opens it (cocoon processes
 * are short-lived, so open time is the natural point). The logger is created on first
 * use so commands that never log do not pay for pino at start-up.
 */
import { mkdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { logSettings } from './log-settings.ts';
import type { LogLevel } from './schemas/config.ts';

export type { Logger } from 'pino';

const ROTATE_BYTES = 10 * 2 ** 20;
const KEEP = 3;
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
  const file = settings.logDir ? openLogFile(settings.logDir) : null;
  const fileLevel: pino.Level = levelValue(settings.level) < levelValue('info') ? stderrLevel : 'info';
  if (file) streams.push({ level: fileLevel, stream: pino.destination({ dest: file, sync: true, mkdir: true }) });
  const min = streams.reduce((lo, s) => (levelValue(s.level as LogLevel) < levelValue(lo) ? (s.level as LogLevel) : lo), 'fatal' as LogLevel);
  return pino({ level: settings.level === 'silent' && !file ? 'silent' : min, base: { tool: settings.tool, pid: process.pid } }, pino.multistream(streams));
}

function openLogFile(dir: string): string | null {
  const file = join(dir, 'cocoon.log');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if ((statSync(file, { throwIfNoEntry: false })?.size ?? 0) > ROTATE_BYTES) rotate(file);
    return file;
  } catch {
    // NOTE: an unwritable log dir (e.g. a non-root `vm list`) only loses the file copy.
    return null;
  }
}

function rotate(file: string): void {
  for (let i = KEEP - 1; i >= 1; i--) {
    try {
      renameSync(`${file}.${i}`, `${file}.${i + 1}`);
    } catch {
      // a missing generation is fine
    }
  }
  renameSync(file, `${file}.1`);
}

function levelValue(level: LogLevel): number {
  return level === 'silent' ? Infinity : pino.levels.values[level] ?? 30;
}
