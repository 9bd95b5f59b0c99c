/**
 * One exec session, independent of the transport: starts the child from the `exec`
 * frame, turns its output into frames (pausing it while the channel is full), feeds
 * stdin (pausing the channel while the child is slow), and ends with exactly one
 * terminal frame. A host that goes away (`abort`) kills the child's process group.
 * Binary data frames are used when the `exec` asked for them (the `started` frame says
 * so); the transport encodes, the session only decides.
 */
import { constants } from 'node:os';
import type { AgentFrame, ExecFrame, HostFrame } from '@cocoon/common/schemas/agent';
import { startPipeChild, type ChildEvents, type RunningChild } from './child.ts';
import { startPtyChild } from './pty-child.ts';
import { log } from './log.ts';
import { childSpec, SpawnError } from './spec.ts';

/** How long output must stay quiet after the child exited before the session ends anyway. */
export const STDIO_GRACE_MS = 250;

/** What a session needs from its transport. */
export interface SessionChannel {
  /** Sends a frame; false means stop producing until `onDrain` fires. */
  send(frame: AgentFrame): boolean;
  /** Sends output as binary data frames or as JSON `stdout`/`stderr` frames; false as for `send`. */
  sendData(type: 'stdout' | 'stderr', data: Buffer, binary: boolean): boolean;
  /** Keys the transport adds to `started` (a serial port announces the pool it serves). */
  readonly startedExtra?: { ports?: number };
  onDrain(cb: () => void): void;
  /** Stops / restarts delivering host frames (stdin backpressure). */
  pauseInput(): void;
  resumeInput(): void;
  /** The terminal frame is out; the transport may close the session. */
  finish(): void;
}

/** Kills a whole process group, ignoring one that is already gone. */
export function killGroup(pid: number, signal: NodeJS.Signals | number = 'SIGKILL'): void {
  if (pid <= 1) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: nothing left in the group
  }
}

export class ExecSession {
  private child?: RunningChild;
  private done = false;
  private exit?: { code: number | null; signal: string | null };
  private waitingDrain = false;
  private outputDone = false;
  private binary = false;
  /** Host input that arrived while the child was starting, replayed once it runs. */
  private readonly early: Array<() => void> = [];
  private graceTimer?: NodeJS.Timeout;
  private readonly events: ChildEvents;

  constructor(private readonly channel: SessionChannel, private readonly onEnd: () => void = () => undefined) {
    this.events = {
      output: (kind, data) => this.output(kind, data),
      exited: (code, signal) => {
        this.exit = { code, signal };
        if (this.outputDone) this.complete();
        else this.armGrace();
      },
      outputEnded: () => {
        this.outputDone = true;
        this.complete();
      },
    };
  }

  /** Starts the child; a command that cannot run ends the session with an `error` frame. */
  async start(frame: ExecFrame): Promise<void> {
    // Frames that arrive while the child starts wait in `early`; the channel is paused
    // meanwhile, so that queue holds at most what was already read.
    this.channel.pauseInput();
    try {
      const spec = childSpec(frame);
      this.child = spec.tty ? await startPtyChild(spec, this.events) : await startPipeChild(spec, this.events);
    } catch (err) {
      const code = err instanceof SpawnError ? err.exitCode : (err as NodeJS.ErrnoException).code === 'ENOENT' ? 127 : 126;
      return this.fail(err instanceof Error ? err.message : String(err), code);
    } finally {
      this.channel.resumeInput();
    }
    if (this.done) return killGroup(this.child.pid);
    this.binary = frame.binary === true;
    this.channel.send({ type: 'started', pid: this.child.pid, ...(this.binary ? { binary: true } : {}), ...this.channel.startedExtra });
    for (const early of this.early.splice(0)) early();
  }

  /** Feeds stdin bytes (from a `stdin` frame or a binary data frame). */
  input(data: Buffer): void {
    const child = this.child;
    if (this.done) return;
    if (!child) return void this.early.push(() => this.input(Buffer.from(data)));
    if (!child.writeStdin(data)) {
      this.channel.pauseInput();
      child.onStdinDrain(() => this.channel.resumeInput());
    }
  }

  /** Applies a host frame after `exec`. */
  handle(frame: HostFrame): void {
    const child = this.child;
    if (this.done) return;
    if (frame.type === 'stdin') return this.input(Buffer.from(frame.data, 'base64'));
    if (!child) {
      if (frame.type === 'close') this.abort('host closed the session');
      else this.early.push(() => this.handle(frame));
      return;
    }
    switch (frame.type) {
      case 'stdin_close':
        return child.closeStdin();
      case 'resize':
        return child.resize(frame.rows, frame.cols);
      case 'signal':
        return killGroup(child.pid, frame.name);
      case 'close':
      case 'attach':
        return this.abort('host closed the session');
      case 'exec':
        return this.fail('a session runs one command: second "exec" frame', 1);
    }
  }

  /** Ends the session with an `error` frame (protocol error or failed start). */
  fail(message: string, exitCode?: number): void {
    if (this.done) return;
    this.end();
    this.channel.send({ type: 'error', message, ...(exitCode === undefined ? {} : { exit_code: exitCode }) });
    this.channel.finish();
  }

  /** The host is gone: kill the process group, send nothing more. */
  abort(reason: string): void {
    if (this.done) return;
    log().debug({ pid: this.child?.pid, reason }, 'session aborted');
    this.end();
  }

  private output(kind: 'stdout' | 'stderr', data: Buffer): void {
    if (this.done) return;
    if (this.exit) this.armGrace();
    if (this.channel.sendData(kind, data, this.binary) || this.waitingDrain) {
      if (this.waitingDrain) this.child?.pauseOutput();
      return;
    }
    this.waitingDrain = true;
    clearTimeout(this.graceTimer);
    this.child?.pauseOutput();
    this.channel.onDrain(() => {
      this.waitingDrain = false;
      if (this.done) return;
      this.child?.resumeOutput();
      if (this.exit) this.armGrace();
    });
  }

  /**
   * After the child exits, output still flows until its pipes reach EOF; a background
   * grandchild holding them must not pin the session, so the session also ends after
   * STDIO_GRACE_MS without output (never while output waits on the channel).
   */
  private armGrace(): void {
    clearTimeout(this.graceTimer);
    if (this.waitingDrain) return;
    this.graceTimer = setTimeout(() => this.complete(), STDIO_GRACE_MS);
  }

  private complete(): void {
    if (this.done || !this.exit) return;
    const { code, signal } = this.exit;
    this.end(false);
    const signum = signal ? (constants.signals as Record<string, number>)[signal] ?? 0 : 0;
    this.channel.send(signal ? { type: 'exit', exit_code: 128 + signum, signal } : { type: 'exit', exit_code: code ?? 0 });
    this.channel.finish();
  }

  /** Marks the session over; `kill` also kills the process group (not after a normal exit). */
  private end(kill = true): void {
    this.done = true;
    clearTimeout(this.graceTimer);
    if (this.child) {
      if (kill) killGroup(this.child.pid);
      this.child.detach();
    }
    this.onEnd();
  }
}
