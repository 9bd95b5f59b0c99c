/**
 * A started child, whatever its stdio: pipes (three streams, via the shared execa helper)
 * or a pty (node-pty, one merged stream). The session drives it through this interface.
 */
import type { Readable } from 'node:stream';
import { spawn } from '@cocoon/common/exec';
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
  const child = spawn(spec.file, spec.args, {
    env: spec.env,
    extendEnv: false,
    cwd: spec.cwd,
    uid: spec.uid,
    gid: spec.gid,
    // NOTE: detached = setsid(): own session and process group, so the group can be killed.
    detached: true,
    stdin: 'pipe',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    reject: false,
    cleanup: false,
  });
  // The execa promise settles after stdio ends, which a grandchild can delay forever; the
  // session uses the raw 'exit' event instead and this result is not needed.
  child.catch(() => undefined);
  return new Promise((resolve, reject) => {
    child.once('error', (err) => {
      if (child.pid === undefined) reject(err);
    });
    child.once('spawn', () => resolve(wrap(child, events)));
  });
}

type Sub = ReturnType<typeof spawn>;

function wrap(child: Sub, events: ChildEvents): RunningChild {
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
    writeStdin: (data) => (stdin && !stdin.destroyed ? stdin.write(data) : true),
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
