/**
 * A minimal QMP client: connect to the VM's Unix socket, negotiate capabilities, run
 * commands one at a time. Every line read is parsed through the QMP schemas.
 */
import { connect, type Socket } from 'node:net';
import { ExternalError, TimeoutError } from '../../errors.ts';
import { QmpErrorSchema, QmpEventSchema, QmpGreetingSchema, QmpMessageSchema, QmpReturnSchema } from '../../schemas/qmp.ts';

export class QmpClient {
  private buffer = '';
  private waiters: Array<(line: unknown) => void> = [];
  private eventListeners: Array<(event: { event: string; data?: unknown }) => void> = [];
  private closed = false;
  private closeError: Error | null = null;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('close', () => this.fail(new ExternalError('QMP connection closed')));
    socket.on('error', (err) => this.fail(new ExternalError(`QMP: ${err.message}`)));
  }

  /** Connects, reads the greeting and enters command mode. */
  static async open(path: string, timeoutMs = 5000): Promise<QmpClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(path);
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
    const client = new QmpClient(socket);
    try {
      const greeting = await client.next(timeoutMs);
      QmpGreetingSchema.parse(greeting);
      await client.execute('qmp_capabilities', undefined, timeoutMs);
      return client;
    } catch (err) {
      client.close();
      throw err;
    }
  }

  /** Runs one command and returns its `return` value; a QMP error becomes an ExternalError. */
  async execute(command: string, args?: Record<string, unknown>, timeoutMs = 5000): Promise<unknown> {
    this.socket.write(`${JSON.stringify(args ? { execute: command, arguments: args } : { execute: command })}\n`);
    for (;;) {
      const msg = await this.next(timeoutMs);
      if (QmpEventSchema.safeParse(msg).success) continue;
      const err = QmpErrorSchema.safeParse(msg);
      if (err.success) throw new ExternalError(`QMP ${command}: ${err.data.error.desc}`);
      return QmpReturnSchema.parse(msg).return;
    }
  }

  /** Calls `listener` for every asynchronous event (VSERPORT_CHANGE, SHUTDOWN …) from now on. */
  onEvent(listener: (event: { event: string; data?: unknown }) => void): void {
    this.eventListeners.push(listener);
  }

  /** Resolves when the connection closes (QEMU exited). */
  whenClosed(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.once('close', () => resolve());
    });
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (!line) continue;
      let parsed: unknown;
      try {
        parsed = QmpMessageSchema.parse(JSON.parse(line));
      } catch {
        this.fail(new ExternalError(`QMP: unexpected message: ${line.slice(0, 200)}`));
        return;
      }
      const event = QmpEventSchema.safeParse(parsed);
      if (event.success && this.eventListeners.length > 0) {
        for (const listener of this.eventListeners) listener(event.data);
        continue;
      }
      this.queue.push(parsed);
      this.flush();
    }
  }

  private queue: unknown[] = [];

  private flush(): void {
    while (this.queue.length && this.waiters.length) this.waiters.shift()?.(this.queue.shift());
  }

  private fail(err: Error): void {
    if (this.closeError) return;
    this.closeError = err;
    for (const w of this.waiters.splice(0)) w(err);
  }

  private next(timeoutMs: number): Promise<unknown> {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    if (this.closeError && !this.closed) return Promise.reject(this.closeError);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new TimeoutError(`QMP did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (v: unknown) => {
        clearTimeout(timer);
        if (v instanceof Error) reject(v);
        else resolve(v);
      };
      this.waiters.push(waiter);
    });
  }
}
