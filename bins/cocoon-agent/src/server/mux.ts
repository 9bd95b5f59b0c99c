/**
 * Sessions over one byte stream (a virtio-serial port): every frame carries a `session`
 * id; an `exec` with a new id opens a session, a `close` from the host kills it, and the
 * stream's end kills them all.
 *
 * cocoon's host side gives each port to one client at a time (`agent/pool.ts`), which
 * starts with `attach`: every session still on the port belongs to a client that died
 * without the guest seeing it leave, and is ended. Several sessions at once on one port
 * still work (an older host multiplexed them through a relay); they share the stream's
 * backpressure (bounded memory, but head-of-line blocking).
 */
import type { Socket } from 'node:net';
import { decodeFrame, encodeData, encodeFrame, FrameReader, type Piece } from '@cocoon/common/agent/codec';
import { HOST_FRAME_TYPES, HostFrameSchema, type HostFrame } from '@cocoon/common/schemas/agent';
import { writeAll } from './connection.ts';
import { log } from './log.ts';
import { ExecSession } from './session.ts';

/** Serves sessions multiplexed on `stream`; resolves when the stream ends. */
export function serveMux(stream: Socket, register: (session: ExecSession) => () => void, ports?: number): Promise<void> {
  const reader = new FrameReader();
  const sessions = new Map<number, ExecSession>();
  let pauses = 0;
  const pauseInput = () => {
    if (pauses++ === 0) stream.pause();
  };
  const resumeInput = () => {
    if (--pauses === 0) stream.resume();
  };

  const open = (id: number, frame: Extract<HostFrame, { type: 'exec' }>) => {
    let paused = false;
    const session = new ExecSession(
      {
        send: (f) => stream.destroyed || stream.write(encodeFrame(f, id)),
        sendData: (type, data, binary) =>
          stream.destroyed || writeAll(stream, binary ? encodeData(type, id, data) : [encodeFrame({ type, data: data.toString('base64') }, id)]),
        startedExtra: ports === undefined ? undefined : { ports },
        onDrain: (cb) => stream.once('drain', cb),
        pauseInput: () => {
          if (!paused) pauseInput();
          paused = true;
        },
        resumeInput: () => {
          if (paused) resumeInput();
          paused = false;
        },
        finish: () => sessions.delete(id),
      },
      () => {
        if (paused) resumeInput();
        paused = false;
        sessions.delete(id);
        unregister();
      },
    );
    const unregister = register(session);
    sessions.set(id, session);
    void session.start(frame);
  };

  const onFrame = (frame: HostFrame) => {
    if (frame.type === 'attach') {
      for (const session of [...sessions.values()]) session.abort('a new host client attached to the port');
      return;
    }
    const id = frame.session;
    if (id === undefined) return log().debug({ type: frame.type }, 'serial: frame without session id ignored');
    const session = sessions.get(id);
    if (frame.type === 'exec') {
      if (session) session.fail('a session runs one command: second "exec" frame');
      else open(id, frame);
    } else if (session) session.handle(frame);
  };

  const onPiece = (piece: Piece) => {
    if (piece.kind === 'error') throw piece.error;
    if (piece.kind === 'data') {
      if (piece.type === 'stdin') sessions.get(piece.session)?.input(piece.data);
      return;
    }
    const decoded = decodeFrame(piece.line, HostFrameSchema, HOST_FRAME_TYPES);
    if (decoded.frame) onFrame(decoded.frame);
    else log().debug({ type: decoded.unknown }, 'ignoring unknown frame type');
  };

  stream.on('data', (chunk: Buffer) => {
    for (const piece of reader.push(chunk)) {
      try {
        onPiece(piece);
      } catch (err) {
        // A bad line cannot be pinned on a session: drop it (a new client resynchronises).
        log().warn({ err: err instanceof Error ? err.message : String(err) }, 'serial: bad frame dropped');
      }
    }
  });
  return new Promise((resolve) => {
    stream.on('error', (err) => log().debug({ err: err.message }, 'serial stream error'));
    stream.once('close', () => {
      for (const session of [...sessions.values()]) session.abort('serial stream closed');
      resolve();
    });
    stream.once('end', () => stream.destroy());
  });
}
