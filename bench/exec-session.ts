/**
 * Part of bench/exec.sh: the guest's share of `vm exec VM -- CMD`, without any process
 * start on the host: claims a port of the VM's pool, runs CMD through the agent, gives the
 * port back — RUNS times in one process — and prints the median and p95 in ms as JSON.
 *
 *   node --import tsx bench/exec-session.ts POOL_DIR RUNS CMD [ARG…]
 */
import { randomInt } from 'node:crypto';
import { Writable } from 'node:stream';
import { AgentSession } from '@cocoon/common/agent/client';
import { connectUnix } from '@cocoon/common/agent/connect';
import { agentPool, claimPort, DIRTY_PAD, servedPorts } from '@cocoon/common/hypervisor/qemu/agent-pool';

const [dir, runs, ...argv] = process.argv.slice(2);
if (!dir || !runs || argv.length === 0) throw new Error('usage: exec-session.ts POOL_DIR RUNS CMD [ARG…]');
const pool = agentPool(dir);
const sink = new Writable({ write: (_c, _e, cb) => cb() });
const times: number[] = [];
const phases = { claim: [] as number[], started: [] as number[], exit: [] as number[] };
for (let i = 0; i < Number(runs); i++) {
  const t0 = performance.now();
  const claim = await claimPort(pool, servedPorts(pool));
  const socket = await connectUnix(pool.socket(claim.port));
  const t1 = performance.now();
  let t2 = 0;
  const session = new AgentSession(socket, { session: randomInt(1, 2 ** 31 - 1), attach: { pad: claim.dirty ? DIRTY_PAD : 0 } });
  const result = await session.run({ argv }, { stdout: sink, stderr: sink, onStarted: () => (t2 = performance.now()) });
  const t3 = performance.now();
  socket.destroy();
  claim.release(result.error === undefined);
  if (result.exitCode !== 0 && process.env.EXPECT_FAILURE !== '1') throw new Error(`${argv.join(' ')} exited ${result.exitCode}: ${result.error ?? ''}`);
  if (!t2) t2 = t3;
  times.push(t3 - t0);
  phases.claim.push(t1 - t0);
  phases.started.push(t2 - t1);
  phases.exit.push(t3 - t2);
}
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)] as number;
const round = (x: number) => Math.round(x * 10) / 10;
console.log(JSON.stringify({
  p50: round(pct(times, 50)),
  p95: round(pct(times, 95)),
  claim_connect_p50: round(pct(phases.claim, 50)),
  exec_to_started_p50: round(pct(phases.started, 50)),
  started_to_exit_p50: round(pct(phases.exit, 50)),
}));
