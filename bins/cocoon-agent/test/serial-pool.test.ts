/**
 * The agent's serial-port pool against the real agent, with the test playing QEMU: per
 * port a host-side socket (`<k>.sock`, as QEMU's chardev) and a guest-side socket the
 * agent connects to as its "device". Like virtio-serial, the guest side reads end of file
 * when the host client leaves (here: the fake closes it; the agent reconnects). Clients
 * claim ports exactly as `cocoon vm exec` does (`claimPort` under `<k>.lock`).
 * Real QEMU and a real guest: test/e2e/exec.test.ts.
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Readable } from 'node:stream';
import { AgentSession } from '@cocoon/common/agent/client';
import { encodeData } from '@cocoon/common/agent/codec';
import { connectUnix } from '@cocoon/common/agent/connect';
import { agentPool, claimPort, DIRTY_PAD, type AgentPool } from '@cocoon/common/hypervisor/qemu/agent-pool';
import { alive, Sink, startTool, tempDir, until, type Proc } from './helpers.ts';

const PORTS = 3;

/**
 * One fake virtio-serial port: host clients one at a time, bytes held until the guest side
 * is there. `eof: false` plays the race where the guest never sees a client leave (the
 * next one connects first): the guest's stream simply goes on with the next client.
 */
function fakePort(hostPath: string, guestPath: string, eof = true): Server[] {
  let guest: Socket | undefined;
  let host: Socket | undefined;
  let held: Buffer[] = [];
  const guestServer = createServer((g) => {
    guest = g;
    g.on('error', () => undefined);
    for (const b of held.splice(0)) g.write(b);
    g.on('data', (b: Buffer) => host?.write(b));
    g.once('close', () => {
      if (guest === g) guest = undefined;
    });
  }).listen(guestPath);
  // Like QEMU's chardev: one host client at a time, the next waits until it has gone.
  const waiting: Socket[] = [];
  const serve = (h: Socket) => {
    host = h;
    h.on('data', (b: Buffer) => (guest ? guest.write(b) : held.push(b)));
    h.resume();
    // The guest reads end of file when the host client leaves.
    h.once('close', () => {
      host = undefined;
      held = [];
      if (eof) {
        guest?.end();
        guest = undefined;
      }
      const next = waiting.shift();
      if (next) serve(next);
    });
  };
  const hostServer = createServer((h) => {
    h.on('error', () => undefined);
    h.pause();
    if (host) waiting.push(h);
    else serve(h);
  }).listen(hostPath);
  return [guestServer, hostServer];
}

/** For a suite: `ports` fake ports and an agent serving them, started before and stopped after its tests. */
function agentOnFakePorts(ports: number, eof = true): AgentPool {
  const tmp = tempDir();
  const pool = agentPool(tmp.dir);
  const servers: Server[] = [];
  let agent: Proc | undefined;
  before(async () => {
    const serial: string[] = [];
    for (let k = 0; k < ports; k++) {
      servers.push(...fakePort(pool.socket(k), `${tmp.dir}/guest-${k}.sock`, eof));
      serial.push('--serial', `${tmp.dir}/guest-${k}.sock`);
    }
    agent = await startTool(['serve', '--no-vsock', ...serial]);
  });
  after(async () => {
    await agent?.stop();
    servers.forEach((s) => s.close());
    tmp.cleanup();
  });
  return pool;
}

describe('cocoon-agent serial port pool', () => {
  const pool = agentOnFakePorts(PORTS);

  /** One command the way `vm exec` runs it: claim, connect, attach, run, release. */
  const exec = async (argv: string[], stdin?: Buffer, onStarted?: (pid: number) => void) => {
    const claim = await claimPort(pool, PORTS, Date.now() + 5000);
    const socket = await connectUnix(pool.socket(claim.port));
    const options = { session: randomInt(1, 2 ** 31 - 1), attach: { pad: claim.dirty ? DIRTY_PAD : 0 } };
    try {
      const stdout = new Sink();
      let info = { binary: false, ports: 0 };
      const result = await new AgentSession(socket, options).run(
        { argv },
        { stdin: stdin ? Readable.from([stdin]) : undefined, stdout, stderr: new Sink(), onStarted: (pid, i) => ((info = { binary: i.binary, ports: i.ports ?? 0 }), onStarted?.(pid)) },
      );
      return { ...result, stdout: stdout.data, port: claim.port, ...info };
    } finally {
      socket.destroy();
      claim.release(true);
    }
  };

  it('runs commands with binary frames and announces how many ports it serves', async () => {
    const data = Buffer.concat([Buffer.from([0, 10, 0x7b, 0x20, 1, 2, 3]), Buffer.alloc(200_000, 7)]);
    const r = await exec(['cat'], data);
    assert.equal(r.exitCode, 0);
    assert.ok(r.stdout.equals(data), 'stdout differs from stdin');
    assert.deepEqual([r.binary, r.ports], [true, PORTS]);
  });

  it('runs as many commands at once as there are ports, each on its own', async () => {
    const runs = await Promise.all(Array.from({ length: PORTS }, (_, i) => exec(['sh', '-c', `sleep 0.3; echo ${i}`])));
    assert.deepEqual(runs.map((r) => r.stdout.toString()), runs.map((_, i) => `${i}\n`));
    assert.deepEqual(new Set(runs.map((r) => r.port)).size, PORTS);
  });

  it('kills the remote command when its client goes away, and the port serves the next client', async () => {
    const claim = await claimPort(pool, 1);
    const socket = await connectUnix(pool.socket(claim.port));
    const out = new Sink();
    let pid = 0;
    new AgentSession(socket, { session: 5, attach: { pad: 0 } })
      .run({ argv: ['sh', '-c', 'sleep 64 & echo $!; sleep 65'] }, { stdout: out, stderr: new Sink(), onStarted: (p) => (pid = p) })
      .catch(() => undefined);
    assert.ok(await until(() => out.bytes > 0));
    const bg = Number(out.data.toString().trim());
    socket.destroy();
    claim.release(false);
    assert.ok(await until(() => !alive(pid) && !alive(bg)), 'remote group survived its client');
    assert.equal((await exec(['sh', '-c', 'echo next'])).stdout.toString(), 'next\n');
  });
});

describe('cocoon-agent serial port pool: a client that died mid-frame unseen by the guest', () => {
  const pool = agentOnFakePorts(1, false);

  it('pads and attaches: the stale session ends and the next command runs', async () => {
    const dead = await claimPort(pool, 1);
    const socket = await connectUnix(pool.socket(0));
    let stale = 0;
    const out = new Sink();
    new AgentSession(socket, { session: 77, attach: { pad: 0 } })
      .run({ argv: ['sh', '-c', 'echo up; exec cat'] }, { stdin: new Readable({ read: () => undefined }), stdout: out, stderr: new Sink(), onStarted: (p) => (stale = p) })
      .catch(() => undefined);
    assert.ok(await until(() => out.bytes > 0));
    // Dies in the middle of a binary stdin frame: the guest is left inside its payload.
    const [frame] = encodeData('stdin', 77, Buffer.alloc(30_000, 0x41));
    socket.write((frame as Buffer).subarray(0, 1000));
    await new Promise((r) => setTimeout(r, 200));
    socket.destroy();
    dead.release(false);
    const claim = await claimPort(pool, 1);
    assert.equal(claim.dirty, true, 'the claim remembers the unclean end');
    const next = await connectUnix(pool.socket(0));
    try {
      const stdout = new Sink();
      const r = await new AgentSession(next, { session: 78, attach: { pad: DIRTY_PAD } }).run({ argv: ['sh', '-c', 'echo ok'] }, { stdout, stderr: new Sink() });
      assert.equal(r.exitCode, 0);
      assert.equal(stdout.data.toString(), 'ok\n');
    } finally {
      next.destroy();
      claim.release(true);
    }
    assert.ok(await until(() => !alive(stale)), 'the dead client\'s command survived the attach');
  });
});
