/**
 * The guest agent's logger: pino-shaped JSON lines (`level`, `time`, `tool`, `pid`, `msg`
 * and the fields given) on stderr, which the guest's init sends to the console.
 *
 * Why not `@cocoon/common/log` (pino): the agent runs in every guest and idles there; pino
 * with its stream helpers costs the agent ~2 MB of resident memory for the handful of
 * warnings it ever writes. The call shape is pino's (`log().warn({ … }, 'message')`), so
 * code moves between the two without change.
 */
import { LOG_LEVELS, type LogLevel } from '@cocoon/common/log-settings';

type Fields = Record<string, unknown>;
type Method = (fields: Fields, msg?: string) => void;

/** The subset of pino's Logger the agent uses. */
export interface AgentLogger {
  trace: Method;
  debug: Method;
  info: Method;
  warn: Method;
  error: Method;
}

/** pino's numbers for the levels, so a reader of the console sees the familiar values. */
const VALUES: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

let threshold = VALUES.warn;
let write: (line: string) => void = (line) => process.stderr.write(line);

/** Sets the level (`warn` by default) and, for tests, where lines go. */
export function configureAgentLog(level: LogLevel, sink?: (line: string) => void): void {
  threshold = VALUES[level];
  if (sink) write = sink;
}

/** Whether `value` names a log level. */
export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

function method(level: Exclude<LogLevel, 'silent' | 'fatal'>): Method {
  return (fields, msg) => {
    if (VALUES[level] < threshold) return;
    write(`${JSON.stringify({ level: VALUES[level], time: Date.now(), tool: 'cocoon-agent', pid: process.pid, ...fields, msg })}\n`);
  };
}

const logger: AgentLogger = { trace: method('trace'), debug: method('debug'), info: method('info'), warn: method('warn'), error: method('error') };

/** The agent's logger. */
export function log(): AgentLogger {
  return logger;
}
