/**
 * One virtio-serial port of the pool, served for the agent's lifetime.
 *
 * Its fd stays open the whole time: a port the guest closes drops what the host sends
 * meanwhile, and reopening it in a loop would poll. Reading goes in "epochs", each on a dup
 * of the fd, ended by the end of file the guest reads once its host client has gone; between
 * clients the port is not read at all (a read would return end of file at once) and the
 * agent sleeps until the kernel's SIGIO says a host connected. Output goes through one
 * long-lived writer (another dup), so sessions outlive an epoch.
 *
 * Why the sessions must outlive an epoch: virtio delivers "the host closed" and the next
 * client's first bytes on different queues, so the guest may read the next client's
 * `attach` and `exec` and only then the end of file of the client before. So an end of file
 * ends nothing by itself: if a host is connected again within GONE_MS, its `attach` says
 * whose the sessions are (older ones are killed); if none is, the client is gone and its
 * sessions are killed.
 */
import { closeSync, openSync, constants as fsc } from 'node:fs';
import type { Socket } from 'node:net';
import { socketFromFd } from '@cocoon/common/agent/fd-stream';
import { ExternalError } from '@cocoon/common/errors';
import { native } from '@cocoon/common/native';
import { writeAll } from './connection.ts';
import { log } from './log.ts';
import { Mux } from './mux.ts';
import type { ExecSession } from './session.ts';
import type { SigioWatch } from './sigio.ts';

/** How long a port may stay without a host after an end of file before its sessions are killed. */
export const GONE_MS = 1000;
/** Between host clients a port is re-checked at least this often, SIGIO or not. */
const HOST_POLL_MS = 5000;

export class DevicePort {
  private fd = -1;
  private reader?: Socket;
  private writer?: Socket;
  private drainWaiters: Array<() => void> = [];
  private closed = false;
  private readonly mux: Mux;

  constructor(private readonly path: string, ports: number, register: (session: ExecSession) => () => void, private readonly sigio: SigioWatch) {
    this.mux = new Mux(
      {
        write: (frames) => (this.writer && !this.writer.destroyed ? writeAll(this.writer, frames) : true),
        onDrain: (cb) => this.onDrain(cb),
        pauseInput: () => this.reader?.pause(),
        resumeInput: () => this.reader?.resume(),
      },
      register,
      ports,
    );
  }

  /** Serves the port until `close()`. */
  async serve(): Promise<void> {
    try {
      this.fd = openSync(this.path, fsc.O_RDWR | fsc.O_NOCTTY | fsc.O_NONBLOCK);
    } catch (err) {
      log().warn({ path: this.path, err: (err as Error).message }, 'serial port cannot be opened');
      return;
    }
    while (!this.closed) {
      if (!(await this.hostWithin(Infinity))) break;
      await this.readEpoch();
      this.mux.restartInput();
      if (this.closed || (await this.hostWithin(GONE_MS))) continue;
      this.mux.abortAll('the host client is gone');
      this.dropWriter();
    }
  }

  /** Stops serving: no more reads or writes, the fd closed. */
  close(): void {
    this.closed = true;
    this.reader?.destroy();
    this.dropWriter();
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  /** Reads until the end of file of this host connection. */
  private readEpoch(): Promise<void> {
    const n = native();
    this.writer ??= this.stream(n.dupFd(this.fd), false);
    const reader = this.stream(n.dupFd(this.fd), true);
    this.reader = reader;
    if (this.mux.inputPaused) reader.pause();
    reader.on('data', (chunk: Buffer) => this.mux.feed(chunk));
    return new Promise((resolve) => {
      reader.once('end', () => reader.destroy());
      reader.once('close', () => {
        if (this.reader === reader) this.reader = undefined;
        resolve();
      });
    });
  }

  private stream(fd: number, readable: boolean): Socket {
    if (fd < 0) throw new ExternalError(`cannot duplicate the fd of ${this.path} (errno ${-fd})`);
    const s = socketFromFd(fd, { readable });
    s.on('error', (err) => {
      log().debug({ path: this.path, err: err.message }, 'serial port stream error');
      if (!readable) this.dropWriter();
    });
    return s;
  }

  private onDrain(cb: () => void): void {
    if (!this.writer || this.writer.destroyed) return cb();
    this.drainWaiters.push(cb);
    this.writer.once('drain', () => this.flushDrain());
  }

  private flushDrain(): void {
    for (const cb of this.drainWaiters.splice(0)) cb();
  }

  /** Output of a gone client goes nowhere: pending writes are dropped, waiting sessions go on. */
  private dropWriter(): void {
    this.writer?.destroy();
    this.writer = undefined;
    this.flushDrain();
  }

  /** Resolves true once a host is connected (at once if one is), false after `ms` or at close. */
  private async hostWithin(ms: number): Promise<boolean> {
    const n = native();
    const deadline = Date.now() + ms;
    this.sigio.install();
    const err = n.setAsync(this.fd, true);
    if (err !== 0) throw new ExternalError(`cannot watch a serial port for SIGIO (errno ${err})`);
    try {
      for (;;) {
        const seen = this.sigio.count;
        const hup = n.peerHungUp(this.fd);
        if (hup < 0) throw new ExternalError(`poll on a serial port failed (errno ${-hup})`);
        if (hup === 0) return true;
        const left = deadline - Date.now();
        if (this.closed || left <= 0) return false;
        await this.sigio.after(seen, Math.min(left, HOST_POLL_MS));
      }
    } finally {
      // Off while a host is connected: every chunk it sends would raise SIGIO otherwise.
      if (this.fd >= 0) n.setAsync(this.fd, false);
    }
  }
}
