/**
 * Tests of doctor/cocoon-doctor: the checks on this real host; failures when tools or
 * directories are missing; `--fix` and `--upgrade` run for real but only against a
 * temporary root and inside a network namespace made here (`cop-…`: its sysctls are its
 * own), with recording stand-ins for the package manager (so the host's packages, network
 * and /etc are never changed); upstream releases served by a local stand-in of GitHub's
 * release API inside that namespace.
 */
import { strict as assert } from 'node:assert';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PACKAGE_OF, run, spawn } from '@cocoon/common/exec';
import { loadConflists, pickConflist, supportsPortMappings } from '@cocoon/common/net/conflist';

const HERE = dirname(fileURLToPath(import.meta.url));
const DOCTOR = join(HERE, 'cocoon-doctor');
const work = mkdtempSync(join(tmpdir(), 'cocoon-doctor-test-'));
const NS = `cop-doc-${process.pid}`;
after(async () => {
  await run('ip', ['netns', 'del', NS]).catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
});

interface Outcome { code: number; stdout: string; stderr: string }

async function doctor(args: string[], env: Record<string, string> = {}, opts: { netns?: boolean; file?: string } = {}): Promise<Outcome> {
  const file = opts.file ?? DOCTOR;
  const [cmd, argv] = opts.netns ? ['ip', ['netns', 'exec', NS, 'bash', file, ...args]] : [file, args];
  const r = await spawn(cmd, argv, { reject: false, env: { ...process.env, ...env }, extendEnv: false });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

interface Check { name: string; status: string; required: boolean; fixed: boolean; detail: string }

function parseReport(stdout: string): { ok: boolean; checks: Check[] } {
  const value: unknown = JSON.parse(stdout);
  assert.ok(value && typeof value === 'object' && 'ok' in value && 'checks' in value, 'report shape');
  const report = value as { ok: unknown; checks: unknown };
  assert.equal(typeof report.ok, 'boolean');
  assert.ok(Array.isArray(report.checks));
  for (const c of report.checks as Check[]) {
    assert.equal(typeof c.name, 'string');
    assert.ok(['pass', 'warn', 'fail'].includes(c.status), `status of ${c.name}`);
    assert.equal(typeof c.required, 'boolean');
    assert.equal(typeof c.fixed, 'boolean');
  }
  return report as { ok: boolean; checks: Check[] };
}
const find = (r: { checks: Check[] }, name: string) => r.checks.find((c) => c.name === name);

describe('cocoon-doctor check', () => {
  it('passes on this host (the test suite installs everything first) and explains PVM', async () => {
    const r = await doctor(['check', '--json']);
    const report = parseReport(r.stdout);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(report.ok, true);
    for (const name of ['kvm', 'cloud-hypervisor', 'ch-remote', 'firecracker', 'qemu-system-x86_64', 'qemu-img', 'mkfs.erofs', 'busybox', 'cni-plugins', 'cni-conflist', 'ovmf', 'cloudhv-fd', 'ip', 'tc', 'net.ipv4.ip_forward', 'net.bridge.bridge-nf-call-iptables', 'root-dir', 'hugepages']) {
      assert.ok(find(report, name), `check ${name} present`);
    }
    if (existsSync('/sys/module/kvm_pvm')) assert.match(find(report, 'kvm')?.detail ?? '', /PVM module .* hangs stock ones .* TCG/);
    assert.match(find(report, 'qemu-img')?.detail ?? '', /\(version \d+\.\d+/);
  });

  it('prints one PASS/WARN/FAIL line per check in text mode', async () => {
    const r = await doctor(['check']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^PASS {3}qemu-img {2,}\//m);
    for (const line of r.stdout.trim().split('\n')) assert.match(line, /^(PASS|WARN|FAIL) {2}/);
  });

  it('fails with exit 3 and names the package when a tool is missing', async () => {
    // Without /usr/sbin on PATH, mke2fs, ip and tc are not found.
    const r = await doctor(['check', '--json'], { PATH: '/usr/bin:/bin' });
    assert.equal(r.code, 3);
    const report = parseReport(r.stdout);
    assert.equal(report.ok, false);
    assert.equal(find(report, 'mke2fs')?.status, 'fail');
    assert.match(find(report, 'mke2fs')?.detail ?? '', /package e2fsprogs/);
    assert.match(r.stderr, /check\(s\) failed/);
  });

  it('fails when the root dir cannot be written', async () => {
    const r = await doctor(['check', '--json'], { COCOON_ROOT_DIR: '/proc/cocoon-doctor-test' });
    assert.equal(r.code, 3);
    assert.equal(find(parseReport(r.stdout), 'root-dir')?.status, 'fail');
  });

  it('refuses unknown commands, options in the wrong place and bad values with exit 2, changing nothing', async () => {
    const root = join(work, 'untouched');
    const env = { COCOON_ROOT_DIR: root, COCOON_CNI_CONF_DIR: join(work, 'untouched-cni') };
    for (const [args, message] of [
      [['frobnicate'], /unknown command "frobnicate"/],
      [['check', '--yaml'], /unknown option "--yaml"/],
      [[], /usage:/],
      [['--fix', 'check'], /--fix is an option of check, which comes first: cocoon-doctor check --fix check/],
      [['--upgrade'], /--upgrade is an option of check/],
      [['install', '--fix'], /install takes no options/],
      [['check', '--fix', '--subnet', '10.88.0.0/33'], /--subnet: "10.88.0.0\/33" is not an IPv4 CIDR/],
      [['check', '--subnet'], /--subnet needs a CIDR/],
    ] as const) {
      const r = await doctor([...args], env);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
    }
    assert.equal(existsSync(root) || existsSync(join(work, 'untouched-cni')), false, 'nothing made');
  });

  it('installs the package of every host tool cocoon runs: one map, libs/common/src/host-tools.json', async () => {
    const map = JSON.parse(readFileSync(new URL('../libs/common/src/host-tools.json', import.meta.url), 'utf8')) as Record<string, string>;
    const r = await doctor(['packages']);
    assert.equal(r.code, 0, r.stderr);
    const packages = r.stdout.trim().split('\n');
    for (const [tool, pkg] of Object.entries(map)) assert.ok(packages.includes(pkg), `${tool}: ${pkg} is installed by the doctor`);
    assert.deepEqual(Object.keys(PACKAGE_OF).sort(), Object.keys(map).sort(), 'exec.ts reads the same map');
  });

  it('runs as doctor/check.sh too (the Go cocoon\'s name)', async () => {
    const r = await doctor(['--json'], {}, { file: join(HERE, 'check.sh') });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(parseReport(r.stdout).ok, true);
  });
});

/**
 * A PATH for the stand-ins: dpkg-query reports `missing` as not installed, apt-cache knows
 * `known` (or everything), apt-get, dnf and modprobe log their argv, id -u says root; with
 * `hide`, every other program of /usr/bin, /usr/sbin, /bin and /sbin is linked in except those.
 */
function fakes(name: string, opts: { missing?: string[]; known?: string[]; hide?: string[] } = {}): { path: string; log: string } {
  const bin = mkdtempSync(join(work, `${name}-`));
  const log = join(bin, 'calls.log');
  const script = (body: string) => `#!/usr/bin/env bash\n${body}\n`;
  const missing = opts.missing ?? [];
  writeFileSync(join(bin, 'dpkg-query'), script(`for p in ${missing.join(' ')}; do [[ "\${@: -1}" == "$p" ]] && { echo not-installed; exit 0; }; done; echo installed`));
  writeFileSync(join(bin, 'apt-cache'), script(opts.known ? `for p in ${opts.known.join(' ')}; do [[ "\${@: -1}" == "$p" ]] && exit 0; done; exit 100` : 'exit 0'));
  for (const tool of ['apt-get', 'dnf', 'modprobe']) writeFileSync(join(bin, tool), script(`echo "${tool} $*" >> ${log}`));
  // install and --fix refuse non-root callers; the stand-in makes the test independent of the user.
  writeFileSync(join(bin, 'id'), script('[[ "$1" == -u ]] && { echo 0; exit 0; }; exec /usr/bin/id "$@"'));
  for (const f of ['dpkg-query', 'apt-cache', 'apt-get', 'dnf', 'modprobe', 'id']) chmodSync(join(bin, f), 0o755);
  if (!opts.hide) return { path: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, log };
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    for (const tool of readdirSync(dir)) {
      if (opts.hide.includes(tool) || existsSync(join(bin, tool))) continue;
      symlinkSync(join(dir, tool), join(bin, tool));
    }
  }
  return { path: bin, log };
}
const calls = (log: string) => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []);

describe('cocoon-doctor install', () => {
  it('does nothing (no apt-get at all) when every package is installed', async () => {
    const f = fakes('none');
    const r = await doctor(['install'], { PATH: f.path });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /nothing to do/);
    assert.deepEqual(calls(f.log), []);
  });

  it('installs every missing package in one apt-get call, without update when apt knows them', async () => {
    const f = fakes('two', { missing: ['tmux', 'skopeo'] });
    const r = await doctor(['install'], { PATH: f.path });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(calls(f.log), ['apt-get install -y -q --no-install-recommends skopeo tmux']);
  });

  it('runs apt-get update once first when apt does not know a missing package', async () => {
    const f = fakes('upd', { missing: ['hyperfine'], known: [] });
    const r = await doctor(['install'], { PATH: f.path });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(calls(f.log), ['apt-get update -q', 'apt-get install -y -q --no-install-recommends hyperfine']);
  });
});

describe('cocoon-doctor check --fix (temporary root, network namespace)', () => {
  const dirs = { root: join(work, 'fix', 'root'), run: join(work, 'fix', 'root', 'run'), log: join(work, 'fix', 'log'), cni: join(work, 'fix', 'net.d') };
  const sysctlConf = join(work, 'fix', 'sysctl.d', '99-cocoon.conf');
  const env = (path: string, extra: Record<string, string> = {}) => ({
    PATH: path, COCOON_ROOT_DIR: dirs.root, COCOON_RUN_DIR: dirs.run, COCOON_LOG_DIR: dirs.log, COCOON_CNI_CONF_DIR: dirs.cni, COCOON_SYSCTL_CONF: sysctlConf, ...extra,
  });
  const hostForward = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
  before(async () => {
    await run('ip', ['netns', 'add', NS]);
    await run('ip', ['netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up']);
  });

  it('installs the packages of missing tools, makes the dirs, sets and persists ip_forward, writes the bridge conflist', async () => {
    const f = fakes('fix', { hide: ['socat', 'mcopy'] });
    const r = await doctor(['check', '--fix', '--json'], env(f.path), { netns: true });
    assert.equal(r.code, 0, r.stderr);
    const report = parseReport(r.stdout);
    assert.deepEqual(calls(f.log), ['apt-get install -y -q --no-install-recommends mtools socat']);
    for (const [name, dir] of [['root-dir', dirs.root], ['run-dir', dirs.run], ['log-dir', dirs.log]] as const) {
      assert.equal(find(report, name)?.fixed, true, name);
      assert.equal(statSync(dir).mode & 0o777, 0o700, `${dir} is 0700`);
    }
    assert.equal((await run('ip', ['netns', 'exec', NS, 'cat', '/proc/sys/net/ipv4/ip_forward'])).stdout.trim(), '1', 'set inside the namespace');
    assert.equal(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8'), hostForward, 'the host\'s own sysctl is untouched');
    assert.equal(find(report, 'net.ipv4.ip_forward')?.fixed, true);
    assert.match(readFileSync(sysctlConf, 'utf8'), /^net\.ipv4\.ip_forward = 1$/m);
    const conflist = JSON.parse(readFileSync(join(dirs.cni, '10-cocoon.conflist'), 'utf8')) as { cniVersion: string; name: string; plugins: Array<Record<string, unknown>> };
    assert.equal(conflist.cniVersion, '1.0.0');
    assert.deepEqual(conflist.plugins.map((p) => p.type), ['bridge', 'portmap']);
    assert.deepEqual(conflist.plugins[0], {
      type: 'bridge', bridge: 'cni0', isGateway: true, ipMasq: true, hairpinMode: true,
      ipam: { type: 'host-local', ranges: [[{ subnet: '10.88.0.0/16', gateway: '10.88.0.1' }]], routes: [{ dst: '0.0.0.0/0' }] },
    });
    assert.deepEqual(conflist.plugins[1], { type: 'portmap', capabilities: { portMappings: true }, snat: true });
    // What cocoon-net takes when no --network is given (the first conflist by file name, parsed
    // with its schema) is this very file.
    assert.deepEqual(loadConflists(dirs.cni).map((c) => c.file), [join(dirs.cni, '10-cocoon.conflist')]);
    const taken = pickConflist(dirs.cni, undefined);
    assert.equal(taken.name, 'cocoon');
    assert.deepEqual(taken.plugins.map((p) => p.type), ['bridge', 'portmap']);
    assert.ok(supportsPortMappings(taken), '-p works on it');
  });

  it('is idempotent: a second --fix changes nothing and keeps an existing conflist', async () => {
    const f = fakes('again');
    const before = statSync(join(dirs.cni, '10-cocoon.conflist')).mtimeMs;
    const r = await doctor(['check', '--fix', '--json', '--subnet', '192.168.7.0/24'], env(f.path), { netns: true });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(parseReport(r.stdout).checks.filter((c) => c.fixed).map((c) => c.name), []);
    assert.deepEqual(calls(f.log), [], 'no package manager call');
    assert.equal(statSync(join(dirs.cni, '10-cocoon.conflist')).mtimeMs, before);
  });

  it('--subnet picks the conflist\'s network; dnf on a Fedora-like', async () => {
    const cni = join(work, 'fix', 'net.d-subnet');
    const osRelease = join(work, 'os-release');
    writeFileSync(osRelease, 'ID=fedora\nVERSION_ID=41\n');
    const f = fakes('dnf', { hide: ['socat'] });
    const r = await doctor(['check', '--fix', '--subnet=192.168.7.77/24'], env(f.path, { COCOON_CNI_CONF_DIR: cni, COCOON_OS_RELEASE: osRelease }), { netns: true });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^FIXED {2}cni-conflist/m);
    const conflist = JSON.parse(readFileSync(join(cni, '10-cocoon.conflist'), 'utf8')) as { plugins: Array<{ ipam?: { ranges: unknown } }> };
    assert.deepEqual(conflist.plugins[0]?.ipam?.ranges, [[{ subnet: '192.168.7.0/24', gateway: '192.168.7.1' }]]);
    assert.deepEqual(calls(f.log), ['dnf install -y -q socat']);
  });
});

describe('cocoon-doctor check --upgrade (a stand-in of GitHub\'s release API in the namespace)', () => {
  const up = join(work, 'upgrade');
  const bin = join(up, 'bin');
  const served = join(up, 'served');
  let server: ReturnType<typeof spawn> | undefined;
  const PORT = 18_000 + (process.pid % 1000);
  const base = (extra: Record<string, string>) => ({
    COCOON_ROOT_DIR: join(up, 'root'), COCOON_LOG_DIR: join(up, 'log'), COCOON_CNI_CONF_DIR: join(up, 'net.d'), COCOON_SYSCTL_CONF: join(up, 'sysctl.conf'),
    COCOON_BIN_DIR: bin, COCOON_CH_FIRMWARE: join(up, 'fw', 'CLOUDHV.fd'), COCOON_CNI_BIN_DIR: join(up, 'cni'), ...extra,
  });

  before(async () => {
    mkdirSync(served, { recursive: true });
    const exe = (name: string, text: string) => {
      writeFileSync(join(served, name), `#!/bin/sh\necho "${text}"\n`);
      chmodSync(join(served, name), 0o755);
    };
    exe('cloud-hypervisor-static', 'cloud-hypervisor v51.1 (stand-in)');
    exe('ch-remote-static', 'ch-remote v51.1 (stand-in)');
    writeFileSync(join(served, 'CLOUDHV.fd'), Buffer.alloc(4096, 7));
    const arch = (await run('uname', ['-m'])).stdout.trim();
    const fcDir = join(up, 'fc', `release-v1.15.0-${arch}`);
    mkdirSync(fcDir, { recursive: true });
    writeFileSync(join(fcDir, `firecracker-v1.15.0-${arch}`), '#!/bin/sh\necho "Firecracker v1.15.0 (stand-in)"\n');
    chmodSync(join(fcDir, `firecracker-v1.15.0-${arch}`), 0o755);
    await run('tar', ['-czf', join(served, `firecracker-v1.15.0-${arch}.tgz`), '-C', join(up, 'fc'), `release-v1.15.0-${arch}`]);
    const cniDir = join(up, 'cni-src');
    mkdirSync(cniDir);
    for (const p of ['bridge', 'host-local', 'loopback', 'portmap']) {
      writeFileSync(join(cniDir, p), '#!/bin/sh\necho stand-in CNI plugin\n');
      chmodSync(join(cniDir, p), 0o755);
    }
    const cniArch = arch === 'x86_64' ? 'amd64' : 'arm64';
    await run('tar', ['-czf', join(served, `cni-plugins-linux-${cniArch}-v1.9.0.tgz`), '-C', cniDir, '.']);
    server = spawn('ip', ['netns', 'exec', NS, process.execPath, join(HERE, 'fixtures', 'github-stand-in.mjs'), String(PORT), served], { reject: false, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => server?.stdout?.once('data', () => resolve()));
  });
  after(() => {
    server?.kill('SIGKILL');
  });

  it('installs every component, each verified against its published SHA-256', async () => {
    const f = fakes('upgrade');
    const r = await doctor(['check', '--upgrade', '--json'], { PATH: f.path, ...base({ COCOON_GITHUB_API: `http://127.0.0.1:${PORT}` }) }, { netns: true });
    const report = parseReport(r.stdout);
    assert.equal(r.code, 0, `${r.stderr}\n${r.stdout}`);
    for (const name of ['upgrade-cloud-hypervisor', 'upgrade-firecracker', 'upgrade-cloudhv-fd', 'upgrade-cni-plugins']) {
      assert.equal(find(report, name)?.status, 'pass', `${name}: ${r.stderr}`);
      assert.match(find(report, name)?.detail ?? '', /SHA-256 verified/);
    }
    assert.equal((await run(join(bin, 'cloud-hypervisor'), ['--version'])).stdout.trim(), 'cloud-hypervisor v51.1 (stand-in)');
    assert.equal((await run(join(bin, 'firecracker'), ['--version'])).stdout.trim(), 'Firecracker v1.15.0 (stand-in)');
    assert.equal(statSync(join(bin, 'ch-remote')).mode & 0o777, 0o755);
    assert.deepEqual(readFileSync(join(up, 'fw', 'CLOUDHV.fd')), Buffer.alloc(4096, 7));
    assert.ok(existsSync(join(up, 'cni', 'portmap')));
    // Now the checks find them.
    const again = parseReport((await doctor(['check', '--json'], { PATH: `${bin}:${process.env.PATH}`, ...base({}) })).stdout);
    assert.match(find(again, 'cloud-hypervisor')?.detail ?? '', /cloud-hypervisor v51\.1 \(stand-in\)/);
    assert.equal(find(again, 'cloudhv-fd')?.status, 'pass');
  });

  it('refuses a download whose SHA-256 does not match, installing nothing of it', async () => {
    rmSync(bin, { recursive: true, force: true });
    const f = fakes('tampered');
    const r = await doctor(['check', '--upgrade', '--json'], { PATH: f.path, ...base({ COCOON_GITHUB_API: `http://127.0.0.1:${PORT}/tampered` }) }, { netns: true });
    assert.equal(r.code, 3);
    assert.equal(find(parseReport(r.stdout), 'upgrade-cloud-hypervisor')?.status, 'fail');
    assert.match(r.stderr, /cloud-hypervisor-static from cloud-hypervisor\/cloud-hypervisor v51\.1: SHA-256 [0-9a-f]{64} does not match the published [0-9a-f]{64}: refused/);
    assert.equal(existsSync(join(bin, 'cloud-hypervisor')), false);
  });

  it('without internet, says so and installs the distribution\'s packages instead', async () => {
    const f = fakes('offline', { known: ['containernetworking-plugins'] });
    const r = await doctor(['check', '--upgrade', '--json'], { PATH: f.path, ...base({ COCOON_GITHUB_API: 'http://127.0.0.1:1' }) }, { netns: true });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /cannot reach http:\/\/127\.0\.0\.1:1 \(no internet\?\): installing the distribution's packages instead/);
    assert.deepEqual(calls(f.log), ['apt-get install -y -q --no-install-recommends containernetworking-plugins']);
    const report = parseReport(r.stdout);
    assert.equal(find(report, 'upgrade-cloud-hypervisor')?.status, 'warn');
    assert.match(find(report, 'upgrade-cloud-hypervisor')?.detail ?? '', /not in this distribution's packages, and no internet/);
  });
});
