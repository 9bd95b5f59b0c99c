/**
 * Sessions over one byte stream (a virtio-serial port): every frame carries a `session`
 * id; an `exec` with a new id opens a session (a `reseed` is answered at once), a `close`
 * from the host kills it.
 *
 * cocoon's host side gives each port to one client at a time (`agent/pool.ts`), which
 * starts with `attach`: every session still on the port belongs to a client that is gone,
 * and is ended. Several sessions at once on one port still work (an older host multiplexed
 * them through a relay); they share the port's backpressure (bounded memory, but
 * head-of-line blocking).
 *
 * The sessions outlive the stream they arrived on: a serial port's input may end (the end
 * of file the guest reads when its host disconnects) and resume on a new stream while the
 * same client goes on, so input and output are hooks (`MuxIo`), not one socket.
 */
import type { Socket } from 'node:net';
import { decodeFrame, encodeData, encodeFrame, FrameReader, type Piece } from '@cocoon/common/agent/codec';
import { HOST_FRAME_TYPES, HostFrameSchema, type HostFrame } from '@cocoon/common/schemas/agent';
import { writeAll } from './connection.ts';
import { log } from './log.ts';
import { runReseed } from './reseed.ts';
import { ExecSession } from './session.ts';

/** Where a mux writes, and how it holds its input back. */
export interface MuxIo {
  /** Writes frames; false means wait for `onDrain`. Without a host to write to, drops them (true). */
  write(frames: ReadonlyArray<Buffer | string>): boolean;
  onDrain(cb: () => void): void;
  pauseInput(): void;
  resumeInput(): void;
}

export class Mux {
  private reader = new FrameReader();
  private readonly sessions = new Map<number, ExecSession>();
  private pauses = 0;

  constructor(private readonly io: MuxIo, private readonly register: (session: ExecSession) => () => void, private readonly ports?: number) {}

  /** Sessions running. */
  get size(): number {
    return this.sessions.size;
  }

  /** Feeds bytes read from the port. */
  feed(chunk: Buffer): void {
    for (const piece of this.reader.push(chunk)) {
      try {
        this.onPiece(piece);
      } catch (err) {
        // A bad line cannot be pinned on a session: drop it (a new client resynchronises).
        log().warn({ err: err instanceof Error ? err.message : String(err) }, 'serial: bad frame dropped');
      }
    }
  }

  /** The input stream ended: a frame cut in the middle is dropped (the next client pads anyway). */
  restartInput(): void {
    this.reader = new FrameReader();
  }

  /** The client is gone: every session is killed. */
  abortAll(reason: string): void {
    for (const session of [...this.sessions.values()]) session.abort(reason);
  }

  /** Whether input is held back (a child not reading its stdin). */
  get inputPaused(): boolean {
    return this.pauses > 0;
  }

  private pauseInput(): void {
    if (this.pauses++ === 0) this.io.pauseInput();
  }

  private resumeInput(): void {
    if (--this.pauses === 0) this.io.resumeInput();
  }

  private open(id: number, frame: Extract<HostFrame, { type: 'exec' }>): void {
    let paused = false;
    const io = this.io;
    const session = new ExecSession(
      {
        send: (f) => io.write([encodeFrame(f, id)]),
        sendData: (type, data, binary) => io.write(binary ? encodeData(type, id, data) : [encodeFrame({ type, data: data.toString('base64') }, id)]),
        startedExtra: this.ports === undefined ? undefined : { ports: this.ports },
        onDrain: (cb) => io.onDrain(cb),
        pauseInput: () => {
          if (!paused) this.pauseInput();
          paused = true;
        },
        resumeInput: () => {
          if (paused) this.resumeInput();
          paused = false;
        },
        finish: () => this.sessions.delete(id),
      },
      () => {
        if (paused) this.resumeInput();
        paused = false;
        this.sessions.delete(id);
        unregister();
      },
    );
    const unregister = this.register(session);
    this.sessions.set(id, session);
    void session.start(frame);
  }

  private onFrame(frame: HostFrame): void {
    if (frame.type === 'attach') return this.abortAll('a new host client attached to the port');
    const id = frame.session;
    if (id === undefined) return log().debug({ type: frame.type }, 'serial: frame without session id ignored');
    const session = this.sessions.get(id);
    if (frame.type === 'reseed') {
      // Answered at once (no child); a session id in use is not a new session.
      if (!session) this.io.write([encodeFrame(runReseed(frame), id)]);
    } else if (frame.type === 'exec') {
      if (session) session.fail('a session runs one command: second "exec" frame');
      else this.open(id, frame);
    } else if (session) session.handle(frame);
  }

  private onPiece(piece: Piece): void {
    if (piece.kind === 'error') throw piece.error;
    if (piece.kind === 'data') {
      if (piece.type === 'stdin') this.sessions.get(piece.session)?.input(piece.data);
      return;
    }
    const decoded = decodeFrame(piece.line, HostFrameSchema, HOST_FRAME_TYPES);
    if (decoded.frame) this.onFrame(decoded.frame);
    else log().debug({ type: decoded.unknown }, 'ignoring unknown frame type');
  }
}

/** Serves sessions multiplexed on `stream` (input and output); they end with it. Resolves when it closes. */
export function serveMux(stream: Socket, register: (session: ExecSession) => () => void, ports?: number): Promise<void> {
  const mux = new Mux(
    {
      write: (frames) => stream.destroyed || writeAll(stream, frames),
      onDrain: (cb) => stream.once('drain', cb),
      pauseInput: () => stream.pause(),
      resumeInput: () => stream.resume(),
    },
    register,
    ports,
  );
  stream.on('data', (chunk: Buffer) => mux.feed(chunk));
  return new Promise((resolve) => {
    stream.on('error', (err) => log().debug({ err: err.message }, 'serial stream error'));
    stream.once('close', () => {
      mux.abortAll('serial stream closed');
      resolve();
    });
    stream.once('end', () => stream.destroy());
  });
}
