/**
 * `cocoon vm status` as a real process over a temporary root: index changes made the way
 * every cocoon command makes them (JsonIndex.update: temp file + rename under the lock),
 * including two writes in quick succession, and hypervisor processes (stand-ins whose argv
 * names the VM's control socket, as the QEMU driver verifies) that die.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { vmPaths } from '@cocoon/common/hypervisor/index';
import { layoutOf } from '@cocoon/common/layout';
import { VmEventSchema, type VmRecord } from '@cocoon/common/schemas/vm';
import { vmRecord } from '@cocoon/common/testing/fixtures';
import { runInProcess } from '@cocoon/common/testing/cli';
import { vmIndex } from '@cocoon/common/vms';
import { cliFor } from '../src/cli.ts';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'cocoon-status-'));
const env = { ...process.env, COCOON_ROOT_DIR: root, COCOON_LOG_DIR: join(root, 'log') };
const layout = layoutOf({ root_dir: root, run_dir: join(root, 'run'), log_dir: join(root, 'log') });
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

/** `vm status ARGS` as a child; `lines()` is everything it printed so far, line by line. */
function status(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'vm', 'status', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, exited, lines: () => out.split('\n').filter(Boolean), stderr: () => err };
}

async function until<T>(what: string, get: () => T | undefined, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const put = (vm: VmRecord) => vmIndex(layout).update((items) => void items.set(vm.id, vm));
const patch = (id: string, p: Partial<VmRecord>) => vmIndex(layout).update((items) => void items.set(id, { ...items.get(id)!, ...p, updated_at: new Date().toISOString() }));

/** A live stand-in hypervisor for `vm`: a process whose argv names its control socket. */
function hypervisor(vm: VmRecord): ChildProcess {
  const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e6)', vmPaths(layout, vm.id).apiSocket], { stdio: 'ignore' });
  children.push(c);
  return c;
}

describe('cocoon vm status', () => {
  it('--event --format json: ADDED, MODIFIED (two quick writes: the final state), a dying hypervisor, DELETED', async () => {
    const sentinel = vmRecord(layout, 'sentinel');
    await put(sentinel);
    const s = status(['--event', '--format', 'json', '-n', '30']);
    const events = () => s.lines().map((l) => VmEventSchema.parse(JSON.parse(l)));
    const find = (event: string, pred: (vm: VmRecord) => boolean) => () => events().find((e) => e.event === event && pred(e.vm));
    // Once the VM already there is reported, the child watches.
    await until('ADDED sentinel', find('ADDED', (vm) => vm.id === sentinel.id));

    const a = vmRecord(layout, 'alpha', { state: 'created' });
    await put(a);
    await until('ADDED alpha', find('ADDED', (vm) => vm.id === a.id && vm.state === 'created'));

    // Two writes in a row, no pause: whatever is coalesced, the final state must show.
    const b = vmRecord(layout, 'beta');
    await patch(a.id, { state: 'stopped' });
    await put(b);
    await until('alpha stopped', find('MODIFIED', (vm) => vm.id === a.id && vm.state === 'stopped'));
    await until('ADDED beta', find('ADDED', (vm) => vm.id === b.id));

    // Running with a live hypervisor, then the hypervisor dies: no file changes, still an event.
    const hv = hypervisor(b);
    await patch(b.id, { state: 'running', pid: hv.pid! });
    await until('beta running', find('MODIFIED', (vm) => vm.id === b.id && vm.state === 'running' && vm.pid === hv.pid));
    hv.kill('SIGKILL');
    await until('beta stopped after its process died', find('MODIFIED', (vm) => vm.id === b.id && vm.state === 'stopped' && vm.pid === 0), 5000);

    await vmIndex(layout).update((items) => void items.delete(a.id));
    await until('DELETED alpha', find('DELETED', (vm) => vm.id === a.id));

    s.child.kill('SIGTERM');
    assert.equal(await s.exited, 0, s.stderr());
    const adds = events().filter((e) => e.event === 'ADDED').map((e) => e.vm.config.name);
    assert.deepEqual(adds, ['sentinel', 'alpha', 'beta'], 'each VM added once');
  });

  it('text events show a running record whose process is gone as "stopped (stale)", and filter by name', async () => {
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => dead.on('exit', r));
    const c = vmRecord(layout, 'gamma', { state: 'running', pid: dead.pid! });
    await put(c);
    const s = status(['--event', 'gamma']);
    const line = await until('gamma row', () => s.lines().find((l) => l.startsWith('ADDED')));
    assert.match(s.lines()[0] ?? '', /^EVENT\s+ID\s+NAME\s+STATE\s+CPU\s+MEMORY\s+IP\s+IMAGE$/);
    assert.match(line, new RegExp(`^ADDED\\s+${c.id.slice(0, 12)}\\s+gamma\\s+stopped \\(stale\\)\\s+1\\s+512M\\s+-\\s+default$`));
    assert.equal(s.lines().some((l) => l.includes('beta')), false, 'other VMs filtered out');
    s.child.kill('SIGINT');
    assert.equal(await s.exited, 0);
  });

  it('the table mode prints the table (no screen control off a terminal)', async () => {
    const s = status([]);
    const table = await until('table', () => (s.lines().some((l) => l.includes('gamma')) ? s.lines() : undefined));
    assert.match(table[0] ?? '', /^Every 5s: \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \(Ctrl-C to quit\)$/);
    assert.ok(table.some((l) => /^ID\s+NAME\s+STATE/.test(l)));
    assert.ok(table.some((l) => /gamma\s+stopped \(stale\)/.test(l)));
    assert.equal(s.lines().join('\n').includes('\x1b['), false);
    s.child.kill('SIGTERM');
    assert.equal(await s.exited, 0);
  });

  it('refuses a bad interval and --format json without --event (exit 2)', async () => {
    for (const args of [['-n', '0'], ['-n', 'soon'], ['--format', 'json'], ['--event', '-o', 'yaml']]) {
      const r = await runInProcess(cliFor(['vm', 'status']), 'cocoon', ['vm', 'status', ...args], env);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    }
  });
});
