/**
 * The QEMU relay against the real agent: the test plays QEMU, bridging the relay's
 * chardev connection to the agent's serial connection through two real Unix sockets.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { PassThrough, Readable } from 'node:stream';
import { AgentSession } from '@cocoon/common/agent/client';
import { connectHybridVsock } from '@cocoon/common/agent/connect';
import { runCli } from '@cocoon/common/cli';
import { cli } from '../src/cli.ts';
import { alive, execOn, Sink, startTool, tempDir, until, type Proc } from './helpers.ts';

/** Accepts one connection on each socket and pipes them together (a serial "wire"). */
function fakeQemu(hostSide: string, guestSide: string): { servers: Server[]; cut: () => void } {
  const ends: Socket[] = [];
  const link = () => {
    const [a, b] = ends;
    if (a && b) {
      a.pipe(b).on('error', () => undefined);
      b.pipe(a).on('error', () => undefined);
    }
  };
  const servers = [hostSide, guestSide].map((path) => createServer((s) => {
    s.on('error', () => undefined);
    ends.push(s);
    link();
  }).listen(path));
  return { servers, cut: () => ends.forEach((s) => s.destroy()) };
}

describe('cocoon-agent relay (virtio-serial multiplexing)', () => {
  const tmp = tempDir();
  const qemuSock = `${tmp.dir}/agent-serial.sock`;
  const relaySock = `${tmp.dir}/agent.sock`;
  let agent: Proc;
  let relay: Proc;
  let qemu: ReturnType<typeof fakeQemu>;

  before(async () => {
    qemu = fakeQemu(qemuSock, `${tmp.dir}/guest.sock`);
    agent = await startTool(['serve', '--no-vsock', '--serial', `${tmp.dir}/guest.sock`]);
    relay = await startTool(['relay', '--serial', qemuSock, '--listen', relaySock], () => existsSync(relaySock));
  });
  after(async () => {
    await relay.stop();
    await agent.stop();
    qemu.servers.forEach((s) => s.close());
    tmp.cleanup();
  });

  const exec = async (argv: string[], stdin?: Buffer) =>
    execOn(await connectHybridVsock(relaySock, 1024), { argv }, { stdin: stdin ? Readable.from([stdin]) : undefined });

  it('runs commands through the CONNECT handshake, with exit codes and stdin', async () => {
    const r = await exec(['sh', '-c', 'echo out; echo err >&2; exit 5']);
    assert.deepEqual([r.exitCode, r.stdout.toString(), r.stderr.toString()], [5, 'out\n', 'err\n']);
    const data = Buffer.from([0, 1, 2, 0, 10, 0]);
    assert.ok((await exec(['cat'], data)).stdout.equals(data));
  });

  it('multiplexes concurrent sessions and large output', async () => {
    const runs = await Promise.all(Array.from({ length: 12 }, (_, i) => exec(['sh', '-c', `sleep 0.2; echo ${i}`])));
    assert.deepEqual(runs.map((r) => r.stdout.toString()), runs.map((_, i) => `${i}\n`));
    const big = await exec(['head', '-c', String(16 * 2 ** 20), '/dev/urandom']);
    assert.equal(big.stdout.length, 16 * 2 ** 20);
  });

  it('refuses a port nobody serves', async () => {
    await assert.rejects(connectHybridVsock(relaySock, 2000), /closed|refused/);
  });

  it('kills the remote process group when a client goes away', async () => {
    const socket = await connectHybridVsock(relaySock);
    const out = new Sink();
    let pid = 0;
    new AgentSession(socket).run({ argv: ['sh', '-c', 'sleep 64 & echo $!; sleep 65'] }, { stdout: out, stderr: new Sink(), onStarted: (p) => (pid = p) }).catch(() => undefined);
    assert.ok(await until(() => out.bytes > 0));
    const bg = Number(out.data.toString().trim());
    assert.ok(alive(pid) && alive(bg));
    socket.destroy();
    assert.ok(await until(() => !alive(pid) && !alive(bg)), 'remote group survived');
  });

  it('drives the client command end to end (exit code and stdin passthrough)', async () => {
    const stdout = new Sink();
    const stdin = new PassThrough();
    stdin.end('hello\n');
    const code = await runCli(cli, ['client', '-i', '--uds', relaySock, '--', 'sh', '-c', 'cat; exit 3'], { tool: 'cocoon-agent', stdin, stdout, stderr: new Sink(), env: { ...process.env, COCOON_LOG_DIR: tmp.dir } });
    assert.equal(code, 3);
    assert.equal(stdout.data.toString(), 'hello\n');
  });

  it('exits and removes its socket when QEMU closes the serial channel', async () => {
    let pid = 0;
    const socket = await connectHybridVsock(relaySock);
    new AgentSession(socket).run({ argv: ['sleep', '66'] }, { stdout: new Sink(), stderr: new Sink(), onStarted: (p) => (pid = p) }).catch(() => undefined);
    assert.ok(await until(() => pid > 0));
    qemu.cut();
    assert.ok(await until(() => relay.child.exitCode !== null), 'relay still running');
    assert.equal(relay.child.exitCode, 0);
    assert.equal(existsSync(relaySock), false);
    // The guest side saw the serial stream end: its sessions die with it.
    assert.ok(await until(() => !alive(pid)), 'session survived the serial hang-up');
  });
});
