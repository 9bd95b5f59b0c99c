/** Raw frames against the real agent: bad input, unknown frames, PTY mode, shutdown. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Socket } from 'node:net';
import { AgentSession } from '@cocoon/common/agent/client';
import { connectUnix } from '@cocoon/common/agent/connect';
import { agentOnUnixSocket, alive, execUnix, Sink, until } from './helpers.ts';

/** Sends raw bytes and collects the agent's reply bytes until it closes the connection. */
async function rawBytes(path: string, ...writes: Array<string | Buffer>): Promise<Buffer> {
  const socket: Socket = await connectUnix(path);
  const got: Buffer[] = [];
  socket.on('data', (b: Buffer) => got.push(b));
  socket.on('error', () => undefined);
  for (const w of writes) socket.write(w);
  await new Promise((r) => socket.once('close', r));
  return Buffer.concat(got);
}

/** Sends raw bytes and collects the agent's reply lines (a JSON-only peer's view). */
async function raw(path: string, ...writes: Array<string | Buffer>): Promise<Array<Record<string, unknown>>> {
  return (await rawBytes(path, ...writes)).toString().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('cocoon-agent protocol', () => {
  const { sock, agent } = agentOnUnixSocket();

  it('ends the session with an error frame on invalid JSON', async () => {
    const frames = await raw(sock, 'this is not json\n');
    assert.deepEqual(frames.map((f) => f.type), ['error']);
    assert.match(String(frames[0]?.message), /not valid JSON/);
  });

  it('ends the session on a frame over 8 MiB without buffering it', async () => {
    const frames = await raw(sock, '{"type":"exec","argv":["', Buffer.alloc(9 * 2 ** 20, 0x61));
    assert.deepEqual(frames.map((f) => f.type), ['error']);
    assert.match(String(frames[0]?.message), /exceeds 8388608 bytes/);
  });

  it('requires exec first, rejects bad fields, ignores unknown frame types', async () => {
    assert.match(String((await raw(sock, '{"type":"stdin","data":""}\n'))[0]?.message), /first frame must be "exec"/);
    assert.match(String((await raw(sock, '{"type":"exec","argv":[]}\n'))[0]?.message), /argv must not be empty/);
    const frames = await raw(sock, '{"type":"hello","x":1}\n{"type":"exec","argv":["sh","-c","printf hi"]}\n{"type":"stdin_close"}\n');
    assert.deepEqual(frames.map((f) => f.type), ['started', 'stdout', 'exit']);
    assert.equal(Buffer.from(String(frames[1]?.data), 'base64').toString(), 'hi');
    assert.equal(frames[2]?.exit_code, 0);
  });

  it('speaks JSON to a client that does not ask for binary frames (the Go wire format), binary to one that does', async () => {
    const json = await raw(sock, '{"type":"exec","argv":["cat"]}\n', '{"type":"stdin","data":"AAF7"}\n{"type":"stdin_close"}\n');
    assert.deepEqual(json.map((f) => f.type), ['started', 'stdout', 'exit']);
    assert.equal(json[0]?.binary, undefined);
    assert.equal(json[1]?.data, 'AAF7');
    const bytes = await rawBytes(sock, '{"type":"exec","argv":["cat"],"binary":true}\n', '{"type":"stdin","data":"AAF7"}\n', Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 2, 0x20, 0x0a]), '{"type":"stdin_close"}\n');
    const started = bytes.subarray(0, bytes.indexOf(0x0a));
    assert.equal((JSON.parse(started.toString()) as { binary?: boolean }).binary, true);
    // Both stdin frames (one JSON, one binary) come back as binary stdout frames, then a JSON exit.
    const rest = bytes.subarray(started.length + 1);
    const out: Buffer[] = [];
    let at = 0;
    while (rest[at] === 2) {
      const n = rest.readUInt32BE(at + 5);
      out.push(rest.subarray(at + 9, at + 9 + n));
      at += 9 + n;
    }
    assert.equal(Buffer.concat(out).toString('hex'), '00017b200a');
    assert.match(rest.subarray(at).toString(), /^\{"type":"exit","exit_code":0\}\n$/);
  });

  it('runs a pty session with the requested size, resize and a /dev/pts terminal', async () => {
    const r = await execUnix(sock, { argv: ['sh', '-c', 'tty; stty size'], tty: true, rows: 33, cols: 101 });
    assert.equal(r.exitCode, 0);
    assert.match(r.stdout.toString(), /^\/dev\/pts\/\d+\r\n33 101\r\n$/);
    const socket = await connectUnix(sock);
    const session = new AgentSession(socket);
    const out = new Sink();
    const run = session.run({ argv: ['sh', '-c', 'stty -echo; echo go; read x; stty size'], tty: true }, { stdout: out, stderr: new Sink() });
    assert.ok(await until(() => out.data.toString().includes('go')));
    session.resize(50, 132);
    socket.write('{"type":"stdin","data":"' + Buffer.from('\n').toString('base64') + '"}\n');
    const done = await run;
    assert.equal(done.exitCode, 0);
    assert.match(out.data.toString(), /50 132/);
  });

  it('kills every session when the agent is stopped', async () => {
    const socket = await connectUnix(sock);
    let pid = 0;
    new AgentSession(socket).run({ argv: ['sleep', '63'] }, { stdout: new Sink(), stderr: new Sink(), onStarted: (p) => (pid = p) }).catch(() => undefined);
    assert.ok(await until(() => pid > 0));
    await agent().stop();
    assert.ok(await until(() => !alive(pid)), 'child survived agent shutdown');
  });
});
