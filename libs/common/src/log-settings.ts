/**
 * Who logs and where. Separate from `log.ts` so the runner can set it without loading
 * pino: the logger itself is built on first use, by code that really logs.
 */
/** Every log level, lowest first (pino's names). */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
import type { RotationPolicy } from './log-rotate.ts';

export interface LogSettings {
  tool: string;
  level: LogLevel;
  logDir: string | null;
  /** How the engine log and the VM logs rotate (default: `DEFAULT_ROTATION`). */
  rotation?: RotationPolicy;
}

let settings: LogSettings = { tool: 'cocoon', level: 'warn', logDir: null };
let generation = 0;

/** Sets who logs and where; the logger is rebuilt on its next use. */
export function configureLogging(next: LogSettings): void {
  settings = next;
  generation++;
}

/** The current settings and their generation (bumped on every change). */
export function logSettings(): { settings: LogSettings; generation: number } {
  return { settings, generation };
}
