/**
 * The host client against a JSON-only agent: a stand-in that speaks exactly the Go
 * cocoon-agent's frames (and what a cocoon agent older than binary frames speaks), and
 * ignores keys it does not know. The client asks for binary frames, is not granted them,
 * and must stay on JSON both ways.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { AgentSession } from './client.ts';
import { connectUnix } from './connect.ts';

/** A JSON-only agent: `cat` semantics for any command; records every line it got. */
function jsonOnlyAgent(path: string, got: string[]): Server {
  return createServer((socket: Socket) => {
    let buf = '';
    socket.on('data', (chunk: Buffer) => {
      buf += chunk.toString('latin1');
      for (let nl = buf.indexOf('\n'); nl !== -1; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        got.push(line);
        const frame = JSON.parse(line) as { type: string; data?: string };
        if (frame.type === 'exec') socket.write('{"type":"started","pid":42}\n');
        if (frame.type === 'stdin') socket.write(`${JSON.stringify({ type: 'stdout', data: frame.data })}\n`);
        if (frame.type === 'stdin_close') socket.end('{"type":"exit","exit_code":0}\n');
      }
    });
  }).listen(path);
}

describe('AgentSession with a JSON-only agent', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cocoon-client-'));
  const path = join(dir, 'agent.sock');
  const got: string[] = [];
  let server: Server;
  before(() => {
    server = jsonOnlyAgent(path, got);
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('asks for binary frames, is refused, and streams stdin and stdout as JSON base64', async () => {
    const input = Buffer.from([0, 1, 2, 0x7b, 10, 255]);
    const stdin = new PassThrough();
    const chunks: Buffer[] = [];
    const stdout = new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c), cb()) });
    let binary: boolean | undefined;
    const session = new AgentSession(await connectUnix(path));
    const done = session.run({ argv: ['cat'] }, { stdin, stdout, stderr: stdout, onStarted: (_pid, info) => (binary = info.binary) });
    setTimeout(() => stdin.end(input), 50);
    const result = await done;
    assert.deepEqual([result.exitCode, binary], [0, false]);
    assert.ok(Buffer.concat(chunks).equals(input));
    const frames = got.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(frames.map((f) => f.type), ['exec', 'stdin', 'stdin_close']);
    assert.equal(frames[0]?.binary, true, 'the exec asked for binary frames');
    assert.equal(Buffer.from(String(frames[1]?.data), 'base64').toString('hex'), input.toString('hex'));
  });
});

/**
 * A serial-port agent's answer to a `reseed` on a port taken from the pool (what `vm clone`
 * sends through the pool): stale output of a dead client's session comes first, then the
 * answer of this session, a Go-style `exit` without `exit_code`.
 */
describe('AgentSession.reseed on a pool port', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cocoon-client-'));
  const path = join(dir, 'port.sock');
  const got: string[] = [];
  let server: Server;
  let answer = (id: number) => `{"session":${id},"type":"exit"}\n`;
  before(() => {
    server = createServer((socket: Socket) => {
      let buf = '';
      socket.on('data', (chunk: Buffer) => {
        buf += chunk.toString('latin1');
        for (let nl = buf.indexOf('\n'); nl !== -1; nl = buf.indexOf('\n')) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue;
          got.push(line);
          const frame = JSON.parse(line) as { type: string; session?: number };
          if (frame.type === 'reseed') socket.write(`{"session":9,"type":"stdout","data":"eA=="}\n${answer(frame.session ?? 0)}`);
        }
      });
    }).listen(path);
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('attaches after padding, sends one reseed frame with its session id, and reads its exit', async () => {
    const session = new AgentSession(await connectUnix(path), { session: 1234, attach: { pad: 3 } });
    const result = await session.reseed({ data: Buffer.alloc(8, 1).toString('base64'), regen_machine_id: true });
    assert.deepEqual(result, { exitCode: 0, signal: undefined });
    const frames = got.splice(0).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(frames.map((f) => [f.type, f.session]), [['attach', undefined], ['reseed', 1234]]);
    assert.deepEqual([frames[1]?.regen_machine_id, frames[1]?.data], [true, 'AQEBAQEBAQE=']);
  });

  it('passes the agent\'s error on', async () => {
    answer = (id) => `{"session":${id},"type":"error","message":"reseed: /dev/urandom: EPERM"}\n`;
    const result = await new AgentSession(await connectUnix(path), { session: 99, attach: { pad: 0 } }).reseed({});
    assert.equal(result.error, 'reseed: /dev/urandom: EPERM');
    assert.notEqual(result.exitCode, 0);
  });
});
