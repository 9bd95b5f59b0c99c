/**
 * Many sessions over one byte stream (the virtio-serial port): every frame carries a
 * `session` id; an `exec` with a new id opens a session, a `close` from the host (its
 * client went away) kills it, and the stream's end kills them all. The stream is shared,
 * so its backpressure is too: a full stream pauses every session's output, and a child
 * that does not read stdin pauses the whole stream until it does (bounded memory, but
 * head-of-line blocking; per-session credits would lift that).
 */
import type { Socket } from 'node:net';
import { decodeFrame, encodeFrame, LineDecoder } from '@cocoon/common/agent/codec';
import { log } from '@cocoon/common/log';
import { HOST_FRAME_TYPES, HostFrameSchema, type HostFrame } from '@cocoon/common/schemas/agent';
import { runReseed } from './reseed.ts';
import { ExecSession } from './session.ts';

/** Serves sessions multiplexed on `stream`; resolves when the stream ends. */
export function serveMux(stream: Socket, register: (session: ExecSession) => () => void): Promise<void> {
  const decoder = new LineDecoder();
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
    const id = frame.session;
    if (id === undefined) return log().debug({ type: frame.type }, 'serial: frame without session id ignored');
    const session = sessions.get(id);
    if (frame.type === 'reseed') {
      if (!session) stream.write(encodeFrame(runReseed(frame), id));
    } else if (frame.type === 'exec') {
      if (session) session.fail('a session runs one command: second "exec" frame');
      else open(id, frame);
    } else if (session) session.handle(frame);
  };

  stream.on('data', (chunk: Buffer) => {
    for (const line of decoder.push(chunk)) {
      try {
        if (line instanceof Error) throw line;
        const decoded = decodeFrame(line, HostFrameSchema, HOST_FRAME_TYPES);
        if (decoded.frame) onFrame(decoded.frame);
        else log().debug({ type: decoded.unknown }, 'ignoring unknown frame type');
      } catch (err) {
        // A bad line cannot be pinned on a session: drop it (the relay validates first).
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
