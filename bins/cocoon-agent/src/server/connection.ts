/**
 * A connection that carries exactly one session (vsock, Unix socket): the first frame
 * must be `exec` (or `reseed`, answered at once), the terminal frame closes the connection, and a connection that drops
 * before that kills the session's process group. Binary data frames carry session 0.
 */
import type { Socket } from 'node:net';
import { decodeFrame, encodeData, FrameReader, type Piece } from '@cocoon/common/agent/codec';
import { HOST_FRAME_TYPES, HostFrameSchema, type HostFrame } from '@cocoon/common/schemas/agent';
import { log } from './log.ts';
import { runReseed } from './reseed.ts';
import { ExecSession } from './session.ts';

/** Writes frames to `socket`; returns what the last write returned (false: wait for drain). */
export function writeAll(socket: Socket, frames: ReadonlyArray<Buffer | string>): boolean {
  let ok = true;
  for (const frame of frames) ok = socket.write(frame);
  return ok;
}

/** Serves one session on `socket`; resolves when the connection is gone. */
export function serveConnection(socket: Socket, register: (session: ExecSession) => () => void): Promise<void> {
  const reader = new FrameReader();
  let finished = false;
  const session = new ExecSession(
    {
      send: (frame) => socket.destroyed || socket.write(`${JSON.stringify(frame)}\n`),
      sendData: (type, data, binary) =>
        socket.destroyed || writeAll(socket, binary ? encodeData(type, 0, data) : [`${JSON.stringify({ type, data: data.toString('base64') })}\n`]),
      onDrain: (cb) => socket.once('drain', cb),
      pauseInput: () => socket.pause(),
      resumeInput: () => socket.resume(),
      finish: () => {
        finished = true;
        socket.end();
      },
    },
    () => unregister(),
  );
  const unregister = register(session);
  let started = false;
  const onFrame = (frame: HostFrame) => {
    if (started) return session.handle(frame);
    if (frame.type === 'reseed') {
      started = true;
      finished = true;
      socket.end(`${JSON.stringify(runReseed(frame))}\n`);
      return;
    }
    if (frame.type !== 'exec') return session.fail(`the first frame must be "exec", got "${frame.type}"`);
    started = true;
    void session.start(frame);
  };
  const onPiece = (piece: Piece) => {
    if (piece.kind === 'error') throw piece.error;
    if (piece.kind === 'data') {
      if (!started) throw new Error('the first frame must be "exec", got binary data');
      if (piece.type === 'stdin') session.input(piece.data);
      return;
    }
    const decoded = decodeFrame(piece.line, HostFrameSchema, HOST_FRAME_TYPES);
    if (decoded.frame) onFrame(decoded.frame);
    else log().debug({ type: decoded.unknown }, 'ignoring unknown frame type');
  };
  socket.on('data', (chunk: Buffer) => {
    if (finished) return;
    try {
      for (const piece of reader.push(chunk)) {
        onPiece(piece);
        if (finished) return;
      }
    } catch (err) {
      session.fail(err instanceof Error ? err.message : String(err));
    }
  });
  return new Promise((resolve) => {
    socket.on('error', (err) => log().debug({ err: err.message }, 'connection error'));
    socket.once('close', () => {
      session.abort('connection closed');
      resolve();
    });
    // A host that half-closes is gone as far as a session is concerned.
    socket.once('end', () => {
      if (!finished) socket.destroy();
    });
  });
}
