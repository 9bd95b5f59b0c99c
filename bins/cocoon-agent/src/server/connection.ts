/**
 * A connection that carries exactly one session (vsock, Unix socket): the first frame
 * must be `exec`, the terminal frame closes the connection, and a connection that drops
 * before that kills the session's process group.
 */
import type { Socket } from 'node:net';
import { decodeFrame, LineDecoder } from '@cocoon/common/agent/codec';
import { log } from '@cocoon/common/log';
import { HOST_FRAME_TYPES, HostFrameSchema, type HostFrame } from '@cocoon/common/schemas/agent';
import { runReseed } from './reseed.ts';
import { ExecSession } from './session.ts';

/** Serves one session on `socket`; resolves when the connection is gone. */
export function serveConnection(socket: Socket, register: (session: ExecSession) => () => void): Promise<void> {
  const decoder = new LineDecoder();
  let finished = false;
  const session = new ExecSession(
    {
      send: (frame) => socket.destroyed || socket.write(`${JSON.stringify(frame)}\n`),
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
  socket.on('data', (chunk: Buffer) => {
    if (finished) return;
    try {
      for (const line of decoder.push(chunk)) {
        if (line instanceof Error) throw line;
        const decoded = decodeFrame(line, HostFrameSchema, HOST_FRAME_TYPES);
        if (decoded.frame) onFrame(decoded.frame);
        else log().debug({ type: decoded.unknown }, 'ignoring unknown frame type');
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
