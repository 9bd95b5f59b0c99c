/**
 * Host side of the cocoon-agent protocol over any connected duplex stream: sends `exec`,
 * streams stdin (then `stdin_close`), writes `stdout`/`stderr` to the caller's streams
 * with backpressure both ways, and resolves with the terminal frame.
 *
 * Every `exec` asks for binary data frames; an agent that grants them (`started.binary`)
 * gets stdin as binary frames and sends output the same way, an agent that does not (the
 * Go agent, an older cocoon agent) keeps JSON frames with base64, at the old speed.
 */
import { Writable, type Duplex, type Readable } from 'node:stream';
import { ExitCode, ExternalError } from '../errors.ts';
import { AGENT_FRAME_TYPES, AgentFrameSchema, type AgentFrame, type ExecFrame, type HostFrame, type ReseedFrame } from '../schemas/agent.ts';
import { decodeFrame, encodeData, encodeFrame, FrameReader, type Piece } from './codec.ts';

/** What to run: the `exec` frame without its type. */
export type ExecRequest = Omit<ExecFrame, 'type' | 'session' | 'binary'>;

/** What to reseed: the `reseed` frame without its type. */
export type ReseedRequest = Omit<ReseedFrame, 'type' | 'session'>;

/** What the agent said when the command started. */
export interface StartedInfo {
  pid: number;
  /** Binary data frames were granted. */
  binary: boolean;
  /** A serial-port agent: how many ports of the pool it serves. */
  ports?: number;
}

/** The caller's side of the child's stdio. */
export interface ExecIo {
  /** Streamed to the child; its end sends `stdin_close`. Without it stdin closes at once. */
  stdin?: Readable;
  stdout: Writable;
  stderr: Writable;
  /** Called once the child runs. */
  onStarted?: (pid: number, info: StartedInfo) => void;
}

/** How the remote command ended. */
export interface ExecResult {
  /** The exit code to pass on: the child's, 128+N for a signal, the agent's for an error. */
  exitCode: number;
  signal?: string;
  /** The agent's `error` message when the command could not run or the session broke. */
  error?: string;
}

/** How a session uses its stream. */
export interface SessionOptions {
  /** A multiplexed stream (a serial port): frames carry this id, frames of other ids are ignored. */
  session?: number;
  /** Ask for binary data frames (default true). */
  binary?: boolean;
  /**
   * A serial port taken from the pool: `attach` first, preceded by `pad` spaces when the
   * previous client died mid-frame; bytes the agent sent before this session's first
   * frame (output of that client's sessions) are skipped.
   */
  attach?: { pad: number };
}

export class AgentSession {
  private readonly reader = new FrameReader();
  private readonly session?: number;
  private finished = false;
  private binary = false;
  private stop?: (result: ExecResult) => void;
  /** Before this session's first frame on a shared port: the marker to look for, and the tail seen so far. */
  private sync?: { marker: Buffer; tail: Buffer };

  constructor(private readonly stream: Duplex, private readonly options: SessionOptions = {}) {
    this.session = options.session;
    if (options.attach && options.session !== undefined) {
      this.sync = { marker: Buffer.from(`{"session":${options.session},`), tail: Buffer.alloc(0) };
    }
  }

  /** Forwards a terminal size change (tty sessions). */
  resize(rows: number, cols: number): void {
    this.send({ type: 'resize', rows, cols });
  }

  /** Forwards a signal to the remote process group. */
  signal(name: Extract<HostFrame, { type: 'signal' }>['name']): void {
    this.send({ type: 'signal', name });
  }

  /** Ends the session from this side as if the agent sent `error` (e.g. the guest agent died). */
  abort(message: string): void {
    this.stop?.({ exitCode: ExitCode.External, error: message });
  }

  /** Runs the command and resolves when the agent sends `exit` or `error`. */
  run(request: ExecRequest, io: ExecIo): Promise<ExecResult> {
    const binary = this.options.binary === false ? {} : { binary: true };
    return this.open({ type: 'exec', ...request, ...binary }, io, !io.stdin);
  }

  /** Sends the Go agent's `reseed` (a session of one frame, no child) and resolves with its answer. */
  reseed(request: ReseedRequest): Promise<ExecResult> {
    const discard = new Writable({ write: (_chunk, _enc, cb) => cb() });
    return this.open({ type: 'reseed', ...request }, { stdout: discard, stderr: discard }, false);
  }

  /** Opens the session with `first` (after `attach` on a pool port) and resolves with its terminal frame. */
  private open(first: HostFrame, io: ExecIo, closeStdin: boolean): Promise<ExecResult> {
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
          const bytes = this.sync ? this.skipToSession(chunk) : chunk;
          if (!bytes) return;
          for (const piece of this.reader.push(bytes)) {
            const result = this.handle(piece, io);
            if (result) return finish(null, result);
          }
        } catch (err) {
          finish(err instanceof Error ? err : new Error(String(err)));
        }
      };
      this.stop = (result) => finish(null, result);
      const detachStdin = this.pumpStdin(io.stdin);
      this.stream.on('data', onData);
      // A connector may hand over a paused stream (after its handshake): start reading.
      this.stream.resume();
      this.stream.once('close', () => finish(new ExternalError('the agent connection closed before the command finished')));
      this.stream.on('error', (err) => finish(new ExternalError(`agent connection: ${err.message}`)));
      if (this.options.attach) this.stream.write(`${' '.repeat(this.options.attach.pad)}\n${encodeFrame({ type: 'attach' })}`);
      this.send(first);
      if (closeStdin) this.send({ type: 'stdin_close' });
    });
  }

  /** Drops bytes up to this session's first frame; returns what follows it, if found. */
  private skipToSession(chunk: Buffer): Buffer | undefined {
    const sync = this.sync as { marker: Buffer; tail: Buffer };
    const seen = sync.tail.length === 0 ? chunk : Buffer.concat([sync.tail, chunk]);
    const at = seen.indexOf(sync.marker);
    if (at === -1) {
      sync.tail = Buffer.from(seen.subarray(Math.max(0, seen.length - sync.marker.length + 1)));
      return undefined;
    }
    this.sync = undefined;
    return seen.subarray(at);
  }

  private handle(piece: Piece, io: ExecIo): ExecResult | undefined {
    if (piece.kind === 'error') throw piece.error;
    if (piece.kind === 'data') {
      if (piece.session === (this.session ?? 0) && piece.type !== 'stdin') this.write(piece.type === 'stdout' ? io.stdout : io.stderr, piece.data);
      return undefined;
    }
    const decoded = decodeFrame(piece.line, AgentFrameSchema, AGENT_FRAME_TYPES);
    const frame: AgentFrame | undefined = decoded.frame;
    if (!frame || (this.session !== undefined && frame.session !== this.session)) return undefined;
    switch (frame.type) {
      case 'started':
        this.binary = frame.binary === true;
        io.onStarted?.(frame.pid, { pid: frame.pid, binary: this.binary, ports: frame.ports });
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
      if (!this.sendStdin(data)) {
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

  /** Stdin as binary frames once the agent granted them, else as JSON `stdin` frames. */
  private sendStdin(data: Buffer): boolean {
    if (!this.binary) return this.send({ type: 'stdin', data: data.toString('base64') });
    if (this.finished || this.stream.destroyed || this.stream.writableEnded) return true;
    let ok = true;
    for (const frame of encodeData('stdin', this.session ?? 0, data)) ok = this.stream.write(frame);
    return ok;
  }

  private send(frame: HostFrame): boolean {
    if (this.finished || this.stream.destroyed || this.stream.writableEnded) return true;
    return this.stream.write(encodeFrame(frame, this.session));
  }
}
