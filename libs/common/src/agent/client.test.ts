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
