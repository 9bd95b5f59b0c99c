/**
 * The console relay of a Firecracker VM: Firecracker's serial port is its stdin/stdout, so
 * the relay starts it on a pseudo-terminal (node-pty) and serves the PTY on a Unix socket
 * (`console.sock`, one attached client at a time, as a serial line is) while appending
 * everything the guest prints to the console log. It writes Firecracker's PID for the
 * driver, and exits when Firecracker does (removing the socket).
 */
import { appendFileSync, chmodSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';

export interface ConsoleRelayOptions {
  listen: string;
  log: string;
  pidFile: string;
  file: string;
  args: string[];
}

type PtyModule = typeof import('node-pty');

/** Runs until the hosted process exits; resolves with its exit code. */
export async function runConsoleRelay(opts: ConsoleRelayOptions): Promise<number> {
  const mod = (await import('node-pty')) as PtyModule & { default?: PtyModule };
  const pty = (typeof mod.spawn === 'function' ? mod : (mod.default as PtyModule)).spawn(opts.file, opts.args, {
    name: 'xterm-256color',
    cols: 120,
    rows: 40,
    cwd: process.cwd(),
    env: process.env as Record<string, string>,
    encoding: null,
  });
  writeFileSync(opts.pidFile, `${pty.pid}\n`, { mode: 0o600 });
  closeSync(openSync(opts.log, 'a', 0o600));
  const state: { client: Socket | null } = { client: null };
  pty.onData((data: string | Buffer) => {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    appendFileSync(opts.log, bytes);
    state.client?.write(bytes);
  });
  rmSync(opts.listen, { force: true });
  const server = createServer((socket) => {
    // One console at a time, like a serial line: a new client replaces the old one.
    state.client?.destroy();
    state.client = socket;
    socket.on('data', (d) => pty.write(d.toString('binary')));
    socket.on('close', () => {
      if (state.client === socket) state.client = null;
    });
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(opts.listen, resolve));
  chmodSync(opts.listen, 0o600);
  const code = await new Promise<number>((resolve) => pty.onExit(({ exitCode }) => resolve(exitCode)));
  state.client?.destroy();
  server.close();
  rmSync(opts.listen, { force: true });
  return code;
}
