/**
 * The Cloud Hypervisor and Firecracker drivers end to end against STAND-INS: neither binary
 * can be installed here and KVM cannot boot stock guests, so `cloud-hypervisor` and
 * `firecracker` on PATH are libs/common/test/stand-ins/bin (they say so in their headers):
 * they check CH's option grammar and validate every API request against the upstream specs
 * in shared/specs, and keep the VM state machine. What runs for real: cocoon's whole
 * create/start/stop/rm path, the drivers' launch, readiness polling, PID verification and
 * stop escalation, Firecracker's kernel extraction and PTY console relay. No guest boots.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { RestClient } from '@cocoon/common/hypervisor/rest';
import { VmInspectSchema } from '@cocoon/common/schemas/vm';
import { cocoon, ensureDefaultImage, ok, REPO, requireTools } from '../helpers/cocoon.ts';

const STAND_INS = join(REPO, 'libs', 'common', 'test', 'stand-ins', 'bin');
const withStandIns = (faults = ''): Record<string, string> => ({ PATH: `${STAND_INS}:${process.env.PATH}`, COCOON_STANDIN_FAULTS: faults });

interface Logged { method?: string; path?: string; body?: unknown; status?: number; signal?: string }
const requests = (runDir: string): Logged[] =>
  readFileSync(join(runDir, 'stand-in-requests.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Logged);
const inspect = async (name: string) => VmInspectSchema.parse(JSON.parse(await ok(['vm', 'inspect', name])));

describe('Cloud Hypervisor and Firecracker drivers against spec-checking stand-ins', () => {
  before(async () => {
    requireTools();
    await ensureDefaultImage();
  });

  it('CH: launches with the whole VM on its command line, stops a direct-boot guest with vm.shutdown then SIGTERM', async () => {
    const name = `ch-${process.pid}`;
    const flags = ['--nics', '0', '--hypervisor', 'ch', '--cpu', '2', '-m', '512M', '--data-disk', 'size=64M,name=logs', '--disk-queue-size', '256'];
    // What a new VM would run (nothing is created), then the real launch.
    const planned = JSON.parse(await ok(['vm', 'debug', '--format', 'json', ...flags, 'default'], { extraEnv: withStandIns() })) as string[];
    await ok(['vm', 'run', '--name', name, ...flags, 'default'], { extraEnv: withStandIns() });
    const vm = await inspect(name);
    assert.equal(vm.state, 'running');
    assert.equal(vm.hypervisor, 'cloud-hypervisor');
    assert.deepEqual(vm.tuning, { hugepages: false, balloon: 128 * 2 ** 20, watchdog: true, disk_queue_size: 256, queue_size: 512, direct_io: true, hyperv: false });
    const argv = JSON.parse(readFileSync(join(vm.runtime.runDir, 'stand-in-cloud-hypervisor-argv.json'), 'utf8')) as string[];
    assert.ok(argv.includes('--watchdog'));
    assert.ok(argv.includes(`size=${128 * 2 ** 20},deflate_on_oom=on,free_page_reporting=on`), 'balloon 25 %');
    assert.ok(argv.some((a) => a.includes('serial=cocoon-data-logs') && a.includes('direct=on') && a.includes('queue_size=256') && a.includes('num_queues=2')));
    assert.ok(argv.some((a) => a.startsWith('cid=') && a.endsWith('/vsock.sock')), 'hybrid vsock for the agent');
    // The debug output is what was launched.
    const debug = JSON.parse(await ok(['vm', 'debug', '--format', 'json', name], { extraEnv: withStandIns() })) as string[];
    assert.deepEqual(debug.slice(1), argv);
    const options = (a: string[]) => a.filter((x) => x.startsWith('--'));
    assert.deepEqual(options(planned.slice(1)), options(argv), 'vm debug IMAGE planned the same devices, the vsock included');
    await ok(['vm', 'stop', name], { extraEnv: withStandIns() });
    const calls = requests(vm.runtime.runDir).map((r) => `${r.method} ${r.path} ${r.status}`);
    assert.deepEqual(calls.slice(0, 2), ['GET /api/v1/vmm.ping 200', 'GET /api/v1/vm.info 200']);
    assert.ok(calls.includes('PUT /api/v1/vm.shutdown 204'), calls.join('\n'));
    assert.equal((await inspect(name)).state, 'stopped');
    await ok(['vm', 'rm', name]);
    assert.equal(existsSync(vm.runtime.runDir), false);
  });

  it('FC: extracts the ELF kernel, sends the boot sequence in order, serves the console through the PTY relay, stops with Ctrl-Alt-Del', async () => {
    const name = `fc-${process.pid}`;
    const flags = ['--nics', '0', '--fc', '--cpu', '1', '-m', '256M', '--data-disk', 'size=64M,name=data'];
    const before = JSON.parse(await ok(['vm', 'list', '--format', 'json'])) as unknown[];
    const planned = JSON.parse(await ok(['vm', 'debug', '--format', 'plan', ...flags, 'default'], { extraEnv: withStandIns() })) as { requests: Array<{ path: string; body: unknown }> };
    assert.equal((JSON.parse(await ok(['vm', 'list', '--format', 'json'])) as unknown[]).length, before.length, 'vm debug IMAGE created nothing');
    await ok(['vm', 'run', '--name', name, ...flags, 'default'], { extraEnv: withStandIns() });
    const vm = await inspect(name);
    const seq = requests(vm.runtime.runDir).filter((r) => r.method !== 'GET').map((r) => r.path);
    assert.deepEqual(seq, ['/machine-config', '/boot-source', '/drives/drive0', '/drives/drive1', '/drives/drive2', '/drives/drive3', '/drives/drive4', '/balloon', '/vsock', '/entropy', '/actions']);
    assert.deepEqual(planned.requests.map((r) => r.path), seq, 'vm debug IMAGE planned the same sequence, the vsock included');
    const vsock = requests(vm.runtime.runDir).find((r) => r.path === '/vsock')!.body as { guest_cid: number; uds_path: string };
    assert.equal(vsock.guest_cid, vm.vsock_cid);
    assert.equal(vsock.uds_path, join(vm.runtime.runDir, 'vsock.sock'));
    const boot = requests(vm.runtime.runDir).find((r) => r.path === '/boot-source')!.body as { kernel_image_path: string; boot_args: string };
    assert.match(boot.kernel_image_path, /\/vmlinux$/);
    assert.equal(readFileSync(boot.kernel_image_path).subarray(0, 4).toString('latin1'), '\x7fELF');
    assert.match(boot.boot_args, /cocoon\.layers=\/dev\/vda,\/dev\/vdb,\/dev\/vdc cocoon\.cow=\/dev\/vdd .*cocoon\.data=\/dev\/vde:\/mnt\/data:ext4/);
    assert.match(readFileSync(vm.runtime.consoleLog, 'utf8'), /\[stand-in firecracker\] InstanceStart: 5 drives/, 'the relay logged the serial console');
    const plan = JSON.parse(await ok(['vm', 'debug', '--format', 'plan', name])) as { requests: Array<{ path: string }> };
    assert.deepEqual(plan.requests.map((r) => r.path), seq, 'vm debug prints the same sequence');
    await ok(['vm', 'stop', name]);
    assert.ok(requests(vm.runtime.runDir).some((r) => (r.body as { action_type?: string } | undefined)?.action_type === 'SendCtrlAltDel'));
    assert.equal(existsSync(vm.runtime.consoleSocket), false, 'the relay exited with firecracker');
    await ok(['vm', 'rm', name]);
  });

  it('FC snapshots: a clone loads the saved state, moves its vsock and every writable drive to its own files before it runs; a clone of a removed VM fails whole', async () => {
    const name = `fc-snap-${process.pid}`;
    const snap = `fc-snap-${process.pid}`;
    const clone = `fc-clone-${process.pid}`;
    await ok(['vm', 'run', '--nics', '0', '--name', name, '--fc', '--cpu', '1', '-m', '256M', '--data-disk', 'size=64M,name=data', 'default'], { extraEnv: withStandIns() });
    try {
      await ok(['snapshot', 'save', '--name', snap, name], { extraEnv: withStandIns() });
      await ok(['vm', 'clone', '--name', clone, snap], { extraEnv: withStandIns() });
      const [src, vm] = [await inspect(name), await inspect(clone)];
      assert.equal(vm.state, 'running');
      const calls = requests(vm.runtime.runDir).filter((r) => r.method !== 'GET');
      assert.deepEqual(calls.map((r) => `${r.method} ${r.path} ${r.status}`).slice(0, 4), ['PUT /snapshot/load 204', 'PATCH /drives/drive3 204', 'PATCH /drives/drive4 204', 'PATCH /vm 204'], 'load, drive swaps, then resume');
      assert.deepEqual((calls[0]!.body as { vsock_override?: unknown }).vsock_override, { uds_path: join(vm.runtime.runDir, 'vsock.sock') });
      // What the (stand-in) hypervisor now runs on: the clone's own writable files, the shared layers.
      const api = new RestClient(join(vm.runtime.runDir, 'api.sock'));
      const config = (await api.call({ method: 'GET', path: '/vm/config' }).finally(() => api.close())).body as { drives: Array<{ path_on_host: string; is_read_only: boolean }>; vsock: { uds_path: string } };
      const writable = config.drives.filter((d) => !d.is_read_only).map((d) => d.path_on_host);
      assert.deepEqual(writable, vm.storage_configs.filter((d) => !d.ro).map((d) => d.path));
      assert.ok(writable.every((p) => p.startsWith(`${vm.runtime.runDir}/`)), `the clone's own copies: ${writable.join(' ')}`);
      assert.deepEqual(config.drives.filter((d) => d.is_read_only).map((d) => d.path_on_host), src.storage_configs.filter((d) => d.ro).map((d) => d.path));
      assert.equal(config.vsock.uds_path, join(vm.runtime.runDir, 'vsock.sock'));
      await ok(['vm', 'rm', '--force', clone]);

      // Firecracker reopens the saved paths during the load: with the source gone, the clone fails, whole.
      await ok(['vm', 'rm', '--force', name]);
      const before = (JSON.parse(await ok(['vm', 'list', '--format', 'json'])) as unknown[]).length;
      const r = await cocoon(['vm', 'clone', '--name', clone, snap], { extraEnv: withStandIns() });
      assert.equal(r.code, 10, r.stderr);
      assert.match(r.stderr, new RegExp(`No such file or directory .*${src.runtime.runDir}/cow\\.raw`));
      assert.equal((JSON.parse(await ok(['vm', 'list', '--format', 'json'])) as unknown[]).length, before, 'nothing left of the failed clone');
    } finally {
      await cocoon(['vm', 'rm', '--force', name, clone]);
      await cocoon(['snapshot', 'rm', snap]);
    }
  });

  it('escalates to SIGTERM when the guest ignores the power button, and to SIGKILL when SIGTERM is ignored too', async () => {
    const name = `fc-stubborn-${process.pid}`;
    await ok(['vm', 'run', '--nics', '0', '--name', name, '--fc', '--cpu', '1', '-m', '256M', 'default'], { extraEnv: withStandIns('ignore-power-button,ignore-sigterm') });
    const vm = await inspect(name);
    const t0 = Date.now();
    await ok(['vm', 'stop', '--timeout', '1', name]);
    const took = Date.now() - t0;
    assert.ok(took >= 6000, `power button wait (1 s) + SIGTERM grace (5 s) before SIGKILL; took ${took} ms`);
    assert.ok(requests(vm.runtime.runDir).some((r) => r.signal === 'SIGTERM'), 'SIGTERM was sent (and ignored)');
    assert.equal((await inspect(name)).state, 'stopped');
    await ok(['vm', 'rm', name]);
  });

  it('retries transient 5xx answers', async () => {
    const name = `ch-retry-${process.pid}`;
    await ok(['vm', 'run', '--nics', '0', '--name', name, '--hypervisor', 'ch', '--cpu', '1', '-m', '256M', 'default'], { extraEnv: withStandIns('http500=2') });
    const vm = await inspect(name);
    const statuses = requests(vm.runtime.runDir).map((r) => r.status);
    assert.deepEqual(statuses.slice(0, 3), [500, 500, 200]);
    await ok(['vm', 'rm', '--force', name]);
  });

  it('bad input and broken hypervisors: one line, a documented code, nothing left running or half-made', async () => {
    const before = JSON.parse(await ok(['vm', 'list', '--format', 'json'])) as unknown[];
    const cases: Array<[string[], string, number, RegExp]> = [
      [['--fc', '--windows'], '', 2, /--windows: Firecracker/],
      [['--hypervisor', 'ch', '--cpu', '64'], '', 2, /--cpu: 64 vCPUs is more than/],
      [['--fc', '--memory', '64M'], '', 2, /--memory/],
      [['--hypervisor', 'ch', '--start-timeout', '3'], 'no-socket', 7, /did not answer on its API socket within 3000 ms \(killed\)/],
      [['--hypervisor', 'ch'], 'exit-at-start', 10, /exited during start: .*exit-at-start fault/],
      [['--fc'], '500-then-die', 10, /firecracker exited during start/],
      [['--hypervisor', 'ch'], '500-then-die', 10, /cloud-hypervisor exited during start/],
    ];
    for (const [flags, faults, code, message] of cases) {
      const r = await cocoon(['vm', 'run', '--nics', '0', '--name', `bad-${process.pid}`, '-m', '256M', ...flags, 'default'], { extraEnv: withStandIns(faults) });
      assert.equal(r.code, code, `${flags.join(' ')} [${faults}] → ${r.stderr}`);
      const lines = r.stderr.trim().split('\n').filter((l) => !l.includes('warning:'));
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, message);
    }
    const after = JSON.parse(await ok(['vm', 'list', '--format', 'json'])) as unknown[];
    assert.equal(after.length, before.length, 'vm run removed every VM it could not start');
    const stray = await cocoon(['vm', 'inspect', `bad-${process.pid}`]);
    assert.equal(stray.code, 3);
  });
});
