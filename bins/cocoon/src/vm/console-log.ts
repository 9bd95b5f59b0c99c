/**
 * Reading a VM's console log for `cocoon vm logs`: the rotated generations and the current
 * file as one stream, cut by `--since` (through the time marks) and `--tail`, and followed
 * while the VM runs.
 */
import { closeSync, openSync, readSync, statSync, watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import type { VmPaths } from '@cocoon/common/hypervisor/index';
import { generations } from '@cocoon/common/log-rotate';
import { marksFile, readMarks } from '@cocoon/common/vm-logs';

/** A byte range of one file: from `start` to its end. */
export interface LogPart {
  file: string;
  start: number;
}

/**
 * The parts of the console log to print, oldest first. With `since` (ms since the epoch), a
 * generation last written before it is left out, and within a generation printing starts at
 * the last mark taken at or before `since`: everything after `since` is printed, and at
 * most the bytes since that mark (a boot, a stop or a rotation) before it.
 */
export function selectParts(paths: VmPaths, since: number | null): LogPart[] {
  const marks = marksFile(paths);
  const files = [...generations(paths.consoleLog).reverse(), paths.consoleLog];
  const marksOf = (file: string) => (file === paths.consoleLog ? marks : `${marks}${file.slice(paths.consoleLog.length)}`);
  const parts: LogPart[] = [];
  for (const file of files) {
    const st = statSync(file, { throwIfNoEntry: false });
    if (!st) continue;
    if (since === null) {
      parts.push({ file, start: 0 });
      continue;
    }
    if (st.mtimeMs < since) continue;
    const before = readMarks(marksOf(file)).filter((m) => Date.parse(m.time) <= since);
    parts.push({ file, start: Math.min(before.at(-1)?.offset ?? 0, st.size) });
  }
  return parts;
}

function readRange(file: string, start: number, end: number): Buffer {
  const buf = Buffer.alloc(Math.max(end - start, 0));
  if (buf.length === 0) return buf;
  const fd = openSync(file, 'r');
  try {
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, start + got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes the selected parts to `out`; with `tail`, only their last `tail` lines (read from
 * the newest part backwards, so a long history is not read for a short tail). Returns the
 * position reached in the current console log (where following continues).
 */
export function writeParts(parts: LogPart[], tail: number | null, out: NodeJS.WritableStream): number {
  const ends = parts.map((p) => statSync(p.file, { throwIfNoEntry: false })?.size ?? 0);
  const chunks: Buffer[] = [];
  let lines = 0;
  for (let i = parts.length - 1; i >= 0; i--) {
    const part = parts[i] as LogPart;
    const data = readRange(part.file, part.start, ends[i] ?? 0);
    chunks.unshift(data);
    lines += count(data, 0x0a);
    if (tail !== null && lines > tail) break;
  }
  let all: Buffer = Buffer.concat(chunks);
  if (tail !== null) all = lastLines(all, tail);
  if (all.length > 0) out.write(all);
  return ends.at(-1) ?? 0;
}

function count(buf: Buffer, byte: number): number {
  let n = 0;
  for (let i = buf.indexOf(byte); i >= 0; i = buf.indexOf(byte, i + 1)) n++;
  return n;
}

/** The last `n` lines of `buf` (an unfinished last line counts as one). */
export function lastLines(buf: Buffer, n: number): Buffer {
  if (n === 0) return Buffer.alloc(0);
  let end = buf.length;
  if (end > 0 && buf[end - 1] === 0x0a) end--;
  let cut = end;
  for (let i = 0; i < n; i++) {
    const nl = buf.lastIndexOf(0x0a, cut - 1);
    if (nl < 0) return buf;
    cut = nl;
  }
  return buf.subarray(cut + 1);
}

/**
 * Follows `file` from `position` and writes what is appended, until `alive()` turns false;
 * then writes what is left and returns. A file that shrank or was replaced (rotation) is
 * read again from its start.
 */
export async function follow(file: string, position: number, out: NodeJS.WritableStream, alive: () => Promise<boolean>): Promise<void> {
  let pos = position;
  let ino = statSync(file, { throwIfNoEntry: false })?.ino;
  let wake: (() => void) | undefined;
  let watcher: FSWatcher | undefined;
  try {
    // The directory, not the file: a rotation replaces the file.
    watcher = watch(dirname(file), () => wake?.());
  } catch {
    // no inotify: the timer alone
  }
  try {
    for (;;) {
      const running = await alive();
      const st = statSync(file, { throwIfNoEntry: false });
      if (st && (st.ino !== ino || st.size < pos)) {
        ino = st.ino;
        pos = 0;
      }
      if (st && st.size > pos) {
        out.write(readRange(file, pos, st.size));
        pos = st.size;
      }
      if (!running) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 500);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    watcher?.close();
  }
}
