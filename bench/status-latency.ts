/**
 * How fast `cocoon vm status --event --format json` reports a change, on the packaged
 * executable: from the end of an index write (JsonIndex.update, as every command writes) to
 * the event line on stdout, and from a hypervisor's death (a stand-in process whose argv
 * names the VM's control socket) to its `stopped` event. Prints p50/p95 beside the design
 * numbers they follow from (50 ms debounce, 1 s process check).
 *
 *   node --import tsx bench/status-latency.ts [WRITES=40]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { vmPaths } from '@cocoon/common/hypervisor/index';
import { layoutOf } from '@cocoon/common/layout';
import { VmEventSchema } from '@cocoon/common/schemas/vm';
import { vmRecord } from '@cocoon/common/testing/fixtures';
import { vmIndex } from '@cocoon/common/vms';

const writes = Number(process.argv[2] ?? 40);
const exe = resolve(import.meta.dirname, '..', 'dist', 'bin', 'cocoon');
const root = mkdtempSync(join(tmpdir(), 'cocoon-bench-status-'));
const layout = layoutOf({ root_dir: root, run_dir: join(root, 'run'), log_dir: join(root, 'log') });
// NOTE: every dir of this root's layout, whatever the caller's COCOON_* variables say.
const env = { ...process.env, COCOON_ROOT_DIR: layout.root, COCOON_RUN_DIR: layout.run, COCOON_LOG_DIR: layout.log };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const child = spawn(exe, ['vm', 'status', '--event', '--format', 'json'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
// NOTE: an interrupted run must not leave its `vm status` behind.
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => {
  child.kill('SIGTERM');
  rmSync(root, { recursive: true, force: true });
  process.exitCode = 130;
  process.exit();
});
const seen: Array<{ at: number; cpu: number; state: string; id: string }> = [];
let buf = '';
child.stdout.on('data', (d: Buffer) => {
  buf += d.toString();
  let nl: number;
  while ((nl = buf.indexOf('\n')) >= 0) {
    const e = VmEventSchema.parse(JSON.parse(buf.slice(0, nl)));
    buf = buf.slice(nl + 1);
    seen.push({ at: performance.now(), cpu: e.vm.config.cpu, state: e.vm.state, id: e.vm.id });
    if (process.env.DEBUG_BENCH) process.stderr.write(`${e.event} ${e.vm.state} ${e.vm.config.cpu}\n`);
  }
});
async function waitFor(pred: (e: (typeof seen)[number]) => boolean, from: number): Promise<number> {
  const deadline = performance.now() + 30_000;
  for (;;) {
    const hit = seen.find((e) => e.at >= from && pred(e));
    if (hit) return hit.at - from;
    if (performance.now() > deadline) throw new Error('status-latency: no event within 30 s');
    await sleep(1);
  }
}
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;

try {
  const vm = vmRecord(layout, 'bench');
  await vmIndex(layout).update((items) => void items.set(vm.id, vm));
  await waitFor((e) => e.id === vm.id, 0);
  await sleep(200);
  const writeLatency: number[] = [];
  for (let i = 0; i < writes; i++) {
    const cpu = 2 + (i % 60);
    await vmIndex(layout).update((items) => void items.set(vm.id, { ...items.get(vm.id)!, config: { ...vm.config, cpu } }));
    const t = performance.now();
    writeLatency.push(await waitFor((e) => e.cpu === cpu, t));
    await sleep(120);
  }
  const deathLatency: number[] = [];
  for (let i = 0; i < 5; i++) {
    const hv = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e6)', vmPaths(layout, vm.id).apiSocket], { stdio: 'ignore' });
    const before = performance.now();
    await vmIndex(layout).update((items) => void items.set(vm.id, { ...items.get(vm.id)!, state: 'running', pid: hv.pid ?? 0 }));
    await waitFor((e) => e.state === 'running', before);
    hv.kill('SIGKILL');
    const t = performance.now();
    deathLatency.push(await waitFor((e) => e.state === 'stopped', t));
  }
  const row = (what: string, xs: number[], design: string) => `${what.padEnd(44)} ${pct(xs, 50).toFixed(0).padStart(6)} ${pct(xs, 95).toFixed(0).padStart(6)}   ${design}`;
  process.stdout.write(`${'vm status --event (packaged), latency ms'.padEnd(44)} ${'p50'.padStart(6)} ${'p95'.padStart(6)}   design\n`);
  process.stdout.write(`${row(`index write -> event (${writes} writes)`, writeLatency, '50 ms debounce + read')}\n`);
  process.stdout.write(`${row('hypervisor death -> stopped event (5)', deathLatency, 'checked every 1 s')}\n`);
} finally {
  child.kill('SIGTERM');
  rmSync(root, { recursive: true, force: true });
}
