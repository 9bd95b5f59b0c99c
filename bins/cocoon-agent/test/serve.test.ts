/** The real `cocoon-agent serve` over its test Unix socket: exec semantics end to end. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Readable } from 'node:stream';
import { connectUnix } from '@cocoon/common/agent/connect';
import { agentOnUnixSocket, alive, childrenOf, execUnix, fdCount, rss, Sink, until } from './helpers.ts';

describe('cocoon-agent serve (unix socket)', () => {
  const { sock, agent } = agentOnUnixSocket();

  it('passes exit codes through, and a signal as 128+N with its name', async () => {
    assert.equal((await execUnix(sock, { argv: ['true'] })).exitCode, 0);
    assert.equal((await execUnix(sock, { argv: ['sh', '-c', 'exit 7'] })).exitCode, 7);
    const killed = await execUnix(sock, { argv: ['sh', '-c', 'kill -TERM $$'] });
    assert.deepEqual([killed.exitCode, killed.signal], [143, 'SIGTERM']);
  });

  it('keeps stdout and stderr apart', async () => {
    const r = await execUnix(sock, { argv: ['sh', '-c', 'echo out; echo err >&2; echo out2'] });
    assert.equal(r.stdout.toString(), 'out\nout2\n');
    assert.equal(r.stderr.toString(), 'err\n');
  });

  it('round-trips binary stdin with NUL bytes', async () => {
    const input = Buffer.concat([Buffer.from([0, 0, 1, 0, 255, 10, 0]), randomBytes(3 * 2 ** 20)]);
    const r = await execUnix(sock, { argv: ['cat'] }, { stdin: Readable.from([input.subarray(0, 100), input.subarray(100)]) });
    assert.equal(r.exitCode, 0);
    assert.ok(r.stdout.equals(input), 'stdout differs from stdin');
  });

  it('applies env (both forms), cwd and user', async () => {
    const script = 'echo "$FOO $BAR"; pwd; id -u; id -g; echo $HOME';
    const r = await execUnix(sock, { argv: ['sh', '-c', script], env: { FOO: 'a b' }, cwd: '/tmp', user: 'nobody' });
    assert.equal(r.stdout.toString(), 'a b \n/tmp\n65534\n65534\n/nonexistent\n');
    const g = await execUnix(sock, { argv: ['sh', '-c', 'echo $BAR; id -g'], env: ['BAR=x=y'], user: '65534:100' });
    assert.equal(g.stdout.toString(), 'x=y\n100\n');
  });

  it('reports a missing command as error + 127, and a bad cwd, user or group as not found (3)', async () => {
    const r = await execUnix(sock, { argv: ['no-such-command-xyz'] });
    assert.equal(r.exitCode, 127);
    assert.match(r.error ?? '', /command not found/);
    // No command ran: cocoon's "not found" (3), as its README's table says, not a shell code.
    for (const [frame, words] of [[{ cwd: '/no/such' }, /no such directory/], [{ user: 'no-such-user' }, /not found/], [{ user: 'root:no-such-group' }, /not found/]] as const) {
      const bad = await execUnix(sock, { argv: ['true'], ...frame });
      assert.match(bad.error ?? '', words);
      assert.equal(bad.exitCode, 3, JSON.stringify(frame));
    }
  });

  it('returns promptly when a background child keeps the pipes open', async () => {
    const t0 = Date.now();
    const r = await execUnix(sock, { argv: ['sh', '-c', 'sleep 60 & echo $!'] });
    const ms = Date.now() - t0;
    const bg = Number(r.stdout.toString().trim());
    assert.equal(r.exitCode, 0);
    assert.ok(ms < 1500, `took ${ms} ms`);
    // A normal exit leaves background work running (like docker exec); clean it up here.
    assert.ok(alive(bg));
    process.kill(bg, 'SIGKILL');
  });

  it('kills the whole process group when the client disconnects', async () => {
    const socket = await connectUnix(sock);
    const out = new Sink();
    let pid = 0;
    const { AgentSession } = await import('@cocoon/common/agent/client');
    const run = new AgentSession(socket).run({ argv: ['sh', '-c', 'sleep 61 & echo $!; sleep 62'] }, { stdout: out, stderr: new Sink(), onStarted: (p) => (pid = p) });
    run.catch(() => undefined);
    assert.ok(await until(() => out.bytes > 0));
    const bg = Number(out.data.toString().trim());
    assert.ok(alive(pid) && alive(bg));
    socket.destroy();
    assert.ok(await until(() => !alive(pid) && !alive(bg)), 'process group survived the disconnect');
  });

  it('forwards signals to the process group', async () => {
    const socket = await connectUnix(sock);
    const { AgentSession } = await import('@cocoon/common/agent/client');
    const session = new AgentSession(socket);
    let started = false;
    const run = session.run({ argv: ['sleep', '30'] }, { stdout: new Sink(), stderr: new Sink(), onStarted: () => (started = true) });
    assert.ok(await until(() => started));
    session.signal('SIGINT');
    const r = await run;
    assert.deepEqual([r.exitCode, r.signal], [130, 'SIGINT']);
  });

  it('streams 100 MiB of output with bounded agent memory', async () => {
    const before = rss(agent().pid);
    let peak = 0;
    // A consumer that stalls twice: the agent must stop reading the child, not buffer.
    const sink = new Sink(false, async (n) => {
      if (n % (32 * 2 ** 20) < 65536) {
        await new Promise((r) => setTimeout(r, 200));
        peak = Math.max(peak, rss(agent().pid));
      }
    });
    const t0 = Date.now();
    const r = await execUnix(sock, { argv: ['head', '-c', String(100 * 2 ** 20), '/dev/zero'] }, { stdout: sink });
    const secs = (Date.now() - t0) / 1000;
    assert.equal(r.exitCode, 0);
    assert.equal(sink.bytes, 100 * 2 ** 20);
    assert.ok(peak - before < 96 * 2 ** 20, `agent grew by ${((peak - before) / 2 ** 20).toFixed(0)} MiB`);
    process.stderr.write(`# 100 MiB output in ${secs.toFixed(2)} s (${(100 / secs).toFixed(0)} MiB/s)\n`);
  });

  it('holds stdin back while the child does not read it', async () => {
    const size = 64 * 2 ** 20;
    const chunk = Buffer.alloc(2 ** 20, 7);
    let pulled = 0;
    const stdin = Readable.from((function* () {
      for (let i = 0; i < size / chunk.length; i++) {
        pulled += chunk.length;
        yield chunk;
      }
    })());
    let pulledWhileAsleep = 0;
    setTimeout(() => (pulledWhileAsleep = pulled), 1200);
    const r = await execUnix(sock, { argv: ['sh', '-c', 'sleep 1.5; wc -c'] }, { stdin });
    assert.equal(r.stdout.toString().trim(), String(size));
    // Pipe, socket and stream buffers hold a few MiB; without backpressure it would be all 64.
    assert.ok(pulledWhileAsleep < 16 * 2 ** 20, `host sent ${pulledWhileAsleep / 2 ** 20} MiB to a child that was not reading`);
  });

  it('runs concurrent sessions', async () => {
    const runs = await Promise.all(Array.from({ length: 20 }, (_, i) => execUnix(sock, { argv: ['sh', '-c', `sleep 0.3; echo ${i}`] })));
    assert.deepEqual(runs.map((r) => r.stdout.toString()), runs.map((_, i) => `${i}\n`));
  });

  it('runs 1,000 sequential sessions without leaking fds or processes', async () => {
    await execUnix(sock, { argv: ['true'] });
    const fds = fdCount(agent().pid);
    const t0 = Date.now();
    for (let i = 0; i < 1000; i++) assert.equal((await execUnix(sock, { argv: ['true'] })).exitCode, 0);
    const per = (Date.now() - t0) / 1000;
    assert.ok(await until(() => fdCount(agent().pid) <= fds), `fds ${fds} -> ${fdCount(agent().pid)}`);
    assert.deepEqual(childrenOf(agent().pid), []);
    process.stderr.write(`# exec round trip (true) over a unix socket: ${per.toFixed(2)} ms mean\n`);
  });
});
