/**
 * The guest agent: its listeners (AF_VSOCK, the virtio-serial port, a test-only Unix
 * socket) and the set of live sessions, so shutdown can kill every process group.
 */
import { openSync, constants as fsc, statSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { connectUnix } from '@cocoon/common/agent/connect';
import { listenOnFd, socketFromFd, type FdListener } from '@cocoon/common/agent/fd-stream';
import { ExternalError } from '@cocoon/common/errors';
import { log } from '@cocoon/common/log';
import { native } from '@cocoon/common/native';
import { serveConnection } from './connection.ts';
import { serveMux } from './mux.ts';
import type { ExecSession } from './session.ts';

/** The CID the host always has, as seen from a guest. */
export const HOST_CID = 2;
const RETRY_MS = 250;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** How long the channels get to flush the sessions' final frames at shutdown. */
const SHUTDOWN_FLUSH_MS = 200;

export class Agent {
  private readonly sessions = new Set<ExecSession>();
  private readonly closers: Array<() => void> = [];
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
   * Serves the multiplexed serial channel at `path` until shutdown: a character device
   * (virtio-serial in the guest) or a Unix socket (tests). When the host side goes away
   * the port reads EOF; every session on it is killed and the port is reopened.
   */
  async serveSerial(path: string): Promise<void> {
    while (!this.stopped) {
      let stream: Socket | undefined;
      try {
        stream = await this.openSerial(path);
      } catch (err) {
        log().debug({ path, err: err instanceof Error ? err.message : String(err) }, 'serial port not ready');
      }
      if (stream) {
        const s = stream;
        const close = () => s.destroy();
        this.closers.push(close);
        await serveMux(s, this.register);
        this.closers.splice(this.closers.indexOf(close), 1);
      }
      if (!this.stopped) await sleep(RETRY_MS * 2);
    }
  }

  private async openSerial(path: string): Promise<Socket> {
    if (statSync(path).isSocket()) return connectUnix(path);
    return socketFromFd(openSync(path, fsc.O_RDWR | fsc.O_NOCTTY | fsc.O_NONBLOCK));
  }

  /**
   * Stops listening and kills every session's process group. Each session first gets an
   * `error` frame, and the channels a moment to flush it, so host clients end at once
   * instead of waiting on a channel that will never speak again (a serial port has no
   * hang-up the host could see).
   */
  async shutdown(): Promise<void> {
    this.stopped = true;
    const live = [...this.sessions];
    for (const session of live) session.fail('the agent is shutting down', 1);
    if (live.length > 0) await sleep(SHUTDOWN_FLUSH_MS);
    for (const close of this.closers.splice(0)) close();
  }
}
