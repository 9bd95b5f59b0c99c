/**
 * Host side of the cocoon-agent protocol over any connected duplex stream: sends `exec`,
 * streams stdin as `stdin` frames (then `stdin_close`), writes `stdout`/`stderr` frames to
 * the caller's streams with backpressure both ways, and resolves with the terminal frame.
 */
import type { Duplex, Readable, Writable } from 'node:stream';
import { ExitCode, ExternalError } from '../errors.ts';
import { AGENT_FRAME_TYPES, AgentFrameSchema, type AgentFrame, type ExecFrame, type HostFrame } from '../schemas/agent.ts';
import { decodeFrame, encodeFrame, LineDecoder } from './codec.ts';

/** What to run: the `exec` frame without its type. */
export type ExecRequest = Omit<ExecFrame, 'type' | 'session'>;

/** The caller's side of the child's stdio. */
export interface ExecIo {
  /** Streamed to the child; its end sends `stdin_close`. Without it stdin closes at once. */
  stdin?: Readable;
  stdout: Writable;
  stderr: Writable;
  /** Called with the guest pid once the child runs. */
  onStarted?: (pid: number) => void;
}

/** How the remote command ended. */
export interface ExecResult {
  /** The exit code to pass on: the child's, 128+N for a signal, the agent's for an error. */
  exitCode: number;
  signal?: string;
  /** The agent's `error` message when the command could not run or the session broke. */
  error?: string;
}

/**
 * One exec session on `stream`. With `session` set, frames carry that id (a multiplexed
 * stream such as the QEMU virtio-serial socket) and frames of other sessions are ignored.
 */
export class AgentSession {
  private readonly decoder = new LineDecoder();
  private finished = false;

  constructor(private readonly stream: Duplex, private readonly session?: number) {}

  /** Forwards a terminal size change (tty sessions). */
  resize(rows: number, cols: number): void {
    this.send({ type: 'resize', rows, cols });
  }

  /** Forwards a signal to the remote process group. */
  signal(name: Extract<HostFrame, { type: 'signal' }>['name']): void {
    this.send({ type: 'signal', name });
  }

  /** Runs the command and resolves when the agent sends `exit` or `error`. */
  run(request: ExecRequest, io: ExecIo): Promise<ExecResult> {
    return new Promise<ExecResult>((resolve, reject) => {
      const finish = (err: Error | null, result?: ExecResult) => {
        if (this.finished) return;
        this.finished = true;
        detachStdin();
        this.stream.off('data', onData);
        this.stream.end();
        if (err) reject(err);
        else resolve(result as ExecResult);
      };
      const onData = (chunk: Buffer) => {
        try {
          for (const line of this.decoder.push(chunk)) {
            if (line instanceof Error) throw line;
            const result = this.handle(line, io);
            if (result) return finish(null, result);
          }
        } catch (err) {
          finish(err instanceof Error ? err : new Error(String(err)));
        }
      };
      const detachStdin = this.pumpStdin(io.stdin);
      this.stream.on('data', onData);
      // A connector may hand over a paused stream (after its handshake): start reading.
      this.stream.resume();
      this.stream.once('close', () => finish(new ExternalError('the agent connection closed before the command finished')));
      this.stream.on('error', (err) => finish(new ExternalError(`agent connection: ${err.message}`)));
      this.send({ type: 'exec', ...request });
      if (!io.stdin) this.send({ type: 'stdin_close' });
    });
  }

  private handle(line: Buffer, io: ExecIo): ExecResult | undefined {
    const decoded = decodeFrame(line, AgentFrameSchema, AGENT_FRAME_TYPES);
    const frame: AgentFrame | undefined = decoded.frame;
    if (!frame || (this.session !== undefined && frame.session !== this.session)) return undefined;
    switch (frame.type) {
      case 'started':
        io.onStarted?.(frame.pid);
        return undefined;
      case 'stdout':
      case 'stderr':
        this.write(frame.type === 'stdout' ? io.stdout : io.stderr, Buffer.from(frame.data, 'base64'));
        return undefined;
      case 'exit':
        return { exitCode: frame.exit_code, signal: frame.signal };
      case 'error':
        // NOTE: an error without a code is a broken session (the agent went away): an external
        // failure, not exit 1, which cocoon keeps for its own bugs.
        return { exitCode: frame.exit_code ?? ExitCode.External, error: frame.message };
    }
  }

  /** Writes output; a slow consumer pauses the agent stream (the agent then pauses the child). */
  private write(target: Writable, data: Buffer): void {
    if (target.write(data)) return;
    this.stream.pause();
    target.once('drain', () => this.stream.resume());
  }

  private pumpStdin(stdin: Readable | undefined): () => void {
    if (!stdin) return () => {};
    const onData = (chunk: Buffer | string) => {
      const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (!this.send({ type: 'stdin', data: data.toString('base64') })) {
        stdin.pause();
        this.stream.once('drain', () => stdin.resume());
      }
    };
    const onEnd = () => this.send({ type: 'stdin_close' });
    stdin.on('data', onData).once('end', onEnd);
    return () => {
      stdin.off('data', onData).off('end', onEnd);
      stdin.pause();
    };
  }

  private send(frame: HostFrame): boolean {
    if (this.finished || this.stream.destroyed || this.stream.writableEnded) return true;
    return this.stream.write(encodeFrame(frame, this.session));
  }
}
