/**
 * The guest agent: its listeners (AF_VSOCK, the virtio-serial ports, a test-only Unix
 * socket) and the set of live sessions, so shutdown can kill every process group.
 */
import { statSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { connectUnix } from '@cocoon/common/agent/connect';
import { listenOnFd, type FdListener } from '@cocoon/common/agent/fd-stream';
import { ExternalError } from '@cocoon/common/errors';
import { native } from '@cocoon/common/native';
import { serveConnection } from './connection.ts';
import { DevicePort } from './device-port.ts';
import { log } from './log.ts';
import { serveMux } from './mux.ts';
import type { ExecSession } from './session.ts';
import { SigioWatch } from './sigio.ts';

/** The CID the host always has, as seen from a guest. */
export const HOST_CID = 2;
const RETRY_MS = 250;
/** A test socket standing in for a serial port is reconnected this soon after it closes. */
const SOCKET_RETRY_MS = 50;

function isSocket(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isSocket() === true;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** How long the channels get to flush the sessions' final frames at shutdown. */
const SHUTDOWN_FLUSH_MS = 200;

export class Agent {
  private readonly sessions = new Set<ExecSession>();
  private readonly closers: Array<() => void> = [];
  private readonly sigio = new SigioWatch();
  private stopped = false;

  /** Tracks a session until it ends (passed to the transports). */
  readonly register = (session: ExecSession): (() => void) => {
    // A command that arrives while the agent stops must not start unnoticed: it would
    // never get its terminal frame.
    if (this.stopped) queueMicrotask(() => session.fail('the agent is shutting down', 1));
    this.sessions.add(session);
    return () => this.sessions.delete(session);
  };

  /** Live sessions (tests and shutdown). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Serves one session per connection on a Unix socket (tests; 0600). */
  async listenUnix(path: string): Promise<void> {
    if (statSync(path, { throwIfNoEntry: false })?.isSocket()) unlinkSync(path);
    const server: Server = createServer((socket) => void serveConnection(socket, this.register));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ path, readableAll: false, writableAll: false }, () => resolve());
    });
    this.closers.push(() => server.close());
    log().info({ path }, 'listening on unix socket');
  }

  /**
   * Listens on AF_VSOCK `port`, retrying while the transport is not up yet (early boot)
   * for at most `waitMs`; connections from any CID but the host are closed unanswered.
   */
  async listenVsock(port: number, waitMs: number, allowCid = HOST_CID): Promise<void> {
    const deadline = Date.now() + waitMs;
    let fd = native().vsockListen(port, 64);
    while (fd < 0 && Date.now() < deadline && !this.stopped) {
      await sleep(RETRY_MS);
      fd = native().vsockListen(port, 64);
    }
    if (fd < 0) throw new ExternalError(`cannot listen on vsock port ${port} (errno ${-fd})`);
    const listener: FdListener = listenOnFd(
      fd,
      64,
      (socket, clientFd) => {
        const cid = native().vsockPeerCid(clientFd);
        if (cid !== allowCid) {
          log().warn({ cid }, 'vsock connection from a CID other than the host refused');
          socket.destroy();
          return;
        }
        void serveConnection(socket, this.register);
      },
      (err) => log().warn({ err: err.message }, 'vsock accept failed'),
    );
    this.closers.push(() => listener.close());
    log().info({ port }, 'listening on vsock');
  }

  /**
   * Serves the serial ports at `paths` until shutdown (each a character device, or a Unix
   * socket in tests); `started` frames on them announce how many there are, which tells
   * the host it may use them all at once.
   */
  serveSerial(paths: readonly string[]): Promise<void[]> {
    return Promise.all(paths.map((path) => (isSocket(path) ? this.serveSocketPort(path, paths.length) : this.serveDevicePort(path, paths.length))));
  }

  /** A virtio-serial port, for the agent's lifetime (device-port.ts). */
  private async serveDevicePort(path: string, ports: number): Promise<void> {
    const port = new DevicePort(path, ports, this.register, this.sigio);
    this.closers.push(() => port.close());
    await port.serve();
  }

  /** A Unix socket standing in for a port (tests): reconnected whenever it closes. */
  private async serveSocketPort(path: string, ports: number): Promise<void> {
    while (!this.stopped) {
      let stream: Socket | undefined;
      try {
        stream = await connectUnix(path);
      } catch (err) {
        log().debug({ path, err: err instanceof Error ? err.message : String(err) }, 'serial socket not ready');
      }
      if (stream) {
        const s = stream;
        const close = () => s.destroy();
        this.closers.push(close);
        await serveMux(s, this.register, ports);
        this.closers.splice(this.closers.indexOf(close), 1);
      }
      if (!this.stopped) await sleep(SOCKET_RETRY_MS);
    }
  }

  /**
   * Stops listening and kills every session's process group. Each session first gets an
   * `error` frame, and the channels a moment to flush it, so host clients end at once
   * instead of waiting on a channel that will never speak again (a serial port has no
   * hang-up the host could see).
   */
  async shutdown(): Promise<void> {
    this.stopped = true;
    this.sigio.wakeAll();
    const live = [...this.sessions];
    for (const session of live) session.fail('the agent is shutting down', 1);
    if (live.length > 0) await sleep(SHUTDOWN_FLUSH_MS);
    for (const close of this.closers.splice(0)) close();
  }
}
