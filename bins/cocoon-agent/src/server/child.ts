/**
 * A started child, whatever its stdio: pipes (three streams) or a pty (node-pty, one
 * merged stream). The session drives it through this interface.
 *
 * Pipes are started with `node:child_process` directly (an argument array, never a
 * shell), not through `@cocoon/common/exec`: that helper is execa, which costs the agent
 * ~5 MB of resident memory in every guest for nothing the agent uses (it needs the raw
 * `spawn`/`exit` events and streams, not execa's promise and buffering).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { log } from './log.ts';
import type { ChildSpec } from './spec.ts';

/** What a child reports to its session. */
export interface ChildEvents {
  /** Output bytes; returns false when the session must wait before reading more. */
  output(kind: 'stdout' | 'stderr', data: Buffer): void;
  /** The child itself exited (grandchildren may still hold its stdio). */
  exited(code: number | null, signal: string | null): void;
  /** Every output stream reached end of file. */
  outputEnded(): void;
}

/** The session's handle on a running child. */
export interface RunningChild {
  readonly pid: number;
  /** Writes stdin; false means wait for `onStdinDrain`. */
  writeStdin(data: Buffer): boolean;
  onStdinDrain(cb: () => void): void;
  closeStdin(): void;
  pauseOutput(): void;
  resumeOutput(): void;
  resize(rows: number, cols: number): void;
  /** Stops reading output and closes our ends of the stdio (a pinned pipe is let go). */
  detach(): void;
}

/** Starts a child with pipes, in its own process group. Throws its spawn error (ENOENT…). */
export function startPipeChild(spec: ChildSpec, events: ChildEvents): Promise<RunningChild> {
  log().debug({ argv: [spec.file, ...spec.args] }, 'spawn');
  const child = spawn(spec.file, spec.args, {
    env: spec.env,
    cwd: spec.cwd,
    uid: spec.uid,
    gid: spec.gid,
    // NOTE: detached = setsid(): own session and process group, so the group can be killed.
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    // Later errors (a failed kill) must not go unhandled: they only matter before spawn.
    child.on('error', (err) => {
      if (child.pid === undefined) reject(err);
    });
    child.once('spawn', () => resolve(wrap(child, events)));
  });
}

/** Stdin bytes a session queues for a child that has not read them yet before it pauses the channel. */
const STDIN_BUFFER = 256 * 1024;

function wrap(child: ChildProcess, events: ChildEvents): RunningChild {
  const stdin = child.stdin;
  const outs = [child.stdout, child.stderr].filter((s): s is Readable => s !== null);
  let open = outs.length;
  for (const [i, stream] of outs.entries()) {
    const kind = i === 0 ? 'stdout' : 'stderr';
    stream.on('data', (chunk: Buffer) => events.output(kind, chunk));
    stream.on('error', () => undefined);
    stream.once('end', () => {
      if (--open === 0) events.outputEnded();
    });
  }
  stdin?.on('error', () => undefined); // EPIPE once the child stops reading
  child.once('exit', (code, signal) => events.exited(code, signal));
  return {
    pid: child.pid ?? 0,
    // NOTE: a pipe's writable buffer is 16 KiB, less than one 64 KiB data frame: waiting for
    // 'drain' after every frame would pause and resume the channel each time, so it waits
    // only once STDIN_BUFFER is queued (memory stays bounded all the same).
    writeStdin: (data) => {
      if (!stdin || stdin.destroyed) return true;
      stdin.write(data);
      return stdin.writableLength < STDIN_BUFFER;
    },
    onStdinDrain: (cb) => (stdin && !stdin.destroyed ? stdin.once('drain', cb) : cb()),
    closeStdin: () => stdin?.end(),
    pauseOutput: () => outs.forEach((s) => s.pause()),
    resumeOutput: () => outs.forEach((s) => s.resume()),
    resize: () => undefined,
    detach: () => {
      stdin?.destroy();
      outs.forEach((s) => s.destroy());
    },
  };
}
