/**
 * A VM's own logs under `<log_dir>/<id>/`: `console.log` (the guest console, written by the
 * hypervisor), `hypervisor.log` (its stdout/stderr) and `console.marks` (time marks of the
 * console log). Rotated by size, count and age like the engine log: at start (the
 * hypervisor is not running: rename) and by `cocoon gc` (running: copy and truncate).
 */
import { appendFileSync, readFileSync, statSync } from 'node:fs';
import type { VmPaths } from './hypervisor/index.ts';
import { rotateIfNeeded, type RotationPolicy } from './log-rotate.ts';
import { ConsoleMarkSchema, type ConsoleMark } from './schemas/vm-log.ts';

/** The console log's marks file. */
export function marksFile(paths: Pick<VmPaths, 'logDir'>): string {
  return `${paths.logDir}/console.marks`;
}

/**
 * Rotates the console log (with its marks) and the hypervisor log when they are due.
 * `live`: the hypervisor holds them open (copy and truncate, and mark the cut).
 * Returns the logs that rotated.
 */
export function rotateVmLogs(paths: VmPaths, policy: RotationPolicy, live: boolean): string[] {
  const rotated: string[] = [];
  if (rotateIfNeeded(paths.consoleLog, policy, { companions: [marksFile(paths)], copyTruncate: live })) {
    rotated.push(paths.consoleLog);
    if (live) appendMark(paths, 'rotate');
  }
  if (rotateIfNeeded(paths.hypervisorLog, policy, { copyTruncate: live })) rotated.push(paths.hypervisorLog);
  return rotated;
}

/** Appends a mark: the console log's current size at this moment. */
export function appendMark(paths: VmPaths, event: ConsoleMark['event']): void {
  const mark: ConsoleMark = { time: new Date().toISOString(), offset: statSync(paths.consoleLog, { throwIfNoEntry: false })?.size ?? 0, event };
  // NOTE: one small O_APPEND write per line, so concurrent appenders never interleave.
  appendFileSync(marksFile(paths), `${JSON.stringify(mark)}\n`, { mode: 0o600 });
}

/** The marks in `file`, oldest first; unreadable lines (a torn write) are skipped. */
export function readMarks(file: string): ConsoleMark[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').flatMap((line) => {
    if (!line) return [];
    try {
      const parsed = ConsoleMarkSchema.safeParse(JSON.parse(line));
      return parsed.success ? [parsed.data] : [];
    } catch {
      return [];
    }
  });
}
