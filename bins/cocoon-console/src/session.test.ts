/**
 * Console sessions against real endpoints: a Unix socket server standing in for QEMU's
 * chardev socket, and a real kernel PTY (opened through node-pty's native `open`) standing
 * in for Cloud Hypervisor's `--serial pty`.
 */
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, rmSync, writeSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { ReadStream } from 'node:tty';
import { after, describe, it } from 'node:test';
import { execFileSync } from 'node:child_process';
import * as pty from 'node-pty';
import { openEndpoint } from './endpoint.ts';
import { runSession, type SessionIo } from './session.ts';

const dir = mkdtempSync(join(tmpdir(), 'cocoon-console-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A console server: resolves each accepted connection; records what it received. */
async function consoleServer(name: string): Promise<{ path: string; server: Server; connection: Promise<{ socket: Socket; received: () => string }> }> {
  const path = join(dir, `${name}.sock`);
  let accept!: (c: { socket: Socket; received: () => string }) => void;
  const connection = new Promise<{ socket: Socket; received: () => string }>((r) => (accept = r));
  const server = createServer((socket) => {
    let got = '';
    socket.on('data', (d) => (got += d.toString('latin1')));
    accept({ socket, received: () => got });
  });
  await new Promise<void>((r) => server.listen(path, r));
  return { path, server, connection };
}

function io(): SessionIo & { stdinFeed: PassThrough; out: () => string; err: () => string } {
  const stdinFeed = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString('latin1')));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  return { stdin: stdinFeed as unknown as NodeJS.ReadStream, stdout, stderr, stdinFeed, out: () => out, err: () => err };
}

const until = async (what: string, check: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('console session over a Unix socket', () => {
  it('relays both ways and detaches on ^] . without sending it', async () => {
    const srv = await consoleServer('detach');
    const s = io();
    const link = await openEndpoint({ kind: 'unix', path: srv.path }, 'web');
    const ended = runSession(link, s, { escape: 0x1d, name: 'web' });
    const conn = await srv.connection;
    conn.socket.write('guest# ');
    await until('guest output', () => s.out().includes('guest# '));
    s.stdinFeed.write('uname\r');
    await until('input at the guest', () => conn.received() === 'uname\r');
    s.stdinFeed.write('~?');
    await until('help', () => s.err().includes('~.    - disconnect'));
    s.stdinFeed.write('\x1d.');
    assert.deepEqual(await ended, { kind: 'detached' });
    assert.equal(conn.received(), 'uname\r', 'no escape bytes reached the guest');
    assert.match(s.err(), /^Connected to web \(escape: \^\] \.\)\n/);
    assert.match(s.err(), /\nDisconnected from web\.\n$/);
    srv.server.close();
  });

  it('ends when the VM closes its console, and when stdin ends', async () => {
    const srv = await consoleServer('closed');
    const s = io();
    const ended = runSession(await openEndpoint({ kind: 'unix', path: srv.path }, 'web'), s, { escape: 0x1d, name: 'web' });
    (await srv.connection).socket.end();
    assert.equal((await ended).kind, 'vm-closed');
    assert.match(s.err(), /Disconnected from web: the VM closed its console \(it stopped\)\./);
    srv.server.close();

    const srv2 = await consoleServer('stdin');
    const s2 = io();
    const ended2 = runSession(await openEndpoint({ kind: 'unix', path: srv2.path }, 'web'), s2, { escape: 0x1d, name: 'web' });
    s2.stdinFeed.end('last\r');
    assert.deepEqual(await ended2, { kind: 'stdin-closed' });
    srv2.server.close();
  });

  it('refuses a socket nobody serves with exit 6', async () => {
    await assert.rejects(openEndpoint({ kind: 'unix', path: join(dir, 'none.sock') }, 'web'), (e: Error & { exitCode?: number }) => e.exitCode === 6 && /is not reachable/.test(e.message));
  });
});

describe('console session over a PTY', () => {
  it('relays both ways and sets the PTY window to the terminal size on start and SIGWINCH', async () => {
    const native = (pty as unknown as { native: { open(cols: number, rows: number): { master: number; slave: number; pty: string } } }).native;
    const { master, slave, pty: path } = native.open(80, 24);
    closeSync(slave);
    const master$ = new ReadStream(master);
    let fromConsole = '';
    master$.on('data', (d: Buffer) => (fromConsole += d.toString('latin1')));
    const s = io();
    const term = Object.assign(s.stdout, { isTTY: true, rows: 33, columns: 101 });
    const ended = runSession(await openEndpoint({ kind: 'pty', path }, 'ch-vm'), { ...s, stdout: term }, { escape: 0x1d, name: 'ch-vm' });
    await until('initial size', () => execFileSync('stty', ['-F', path, 'size'], { encoding: 'utf8' }).trim() === '33 101');
    Object.assign(term, { rows: 40, columns: 120 });
    process.emit('SIGWINCH');
    await until('resized', () => execFileSync('stty', ['-F', path, 'size'], { encoding: 'utf8' }).trim() === '40 120');
    writeSync(master, 'ttyS0 login: ');
    await until('guest output', () => s.out().includes('ttyS0 login: '));
    s.stdinFeed.write('root\r');
    await until('input at the guest', () => fromConsole.includes('root\r'));
    s.stdinFeed.write('\r~.');
    assert.deepEqual(await ended, { kind: 'detached' });
    master$.destroy();
  });
});
