/**
 * Tests of doctor/cocoon-doctor: the checks on this real host, failures when tools or
 * directories are missing, and `install` against recording stand-ins for dpkg-query,
 * apt-cache and apt-get (so the test never changes the host's packages).
 */
import { strict as assert } from 'node:assert';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PACKAGE_OF, spawn } from '@cocoon/common/exec';

const DOCTOR = join(dirname(fileURLToPath(import.meta.url)), 'cocoon-doctor');
const work = mkdtempSync(join(tmpdir(), 'cocoon-doctor-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

async function doctor(args: string[], env: Record<string, string> = {}) {
  const r = await spawn(DOCTOR, args, { reject: false, env: { ...process.env, ...env }, extendEnv: false });
  return { code: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

interface Check { name: string; status: string; required: boolean; detail: string }

function parseReport(stdout: string): { ok: boolean; checks: Check[] } {
  const value: unknown = JSON.parse(stdout);
  assert.ok(value && typeof value === 'object' && 'ok' in value && 'checks' in value, 'report shape');
  const report = value as { ok: unknown; checks: unknown };
  assert.equal(typeof report.ok, 'boolean');
  assert.ok(Array.isArray(report.checks));
  for (const c of report.checks as Check[]) {
    assert.equal(typeof c.name, 'string');
    assert.ok(['ok', 'warn', 'fail'].includes(c.status), `status of ${c.name}`);
    assert.equal(typeof c.required, 'boolean');
  }
  return report as { ok: boolean; checks: Check[] };
}

describe('cocoon-doctor check', () => {
  it('passes on this host (the test suite installs everything first) and reports PVM', async () => {
    const r = await doctor(['check', '--json']);
    const report = parseReport(r.stdout);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(report.ok, true);
    const names = report.checks.map((c) => c.name);
    for (const name of ['kvm', 'pvm', 'qemu-system', 'qemu-img', 'mkfs.erofs', 'busybox', 'cni', 'ovmf', 'node', 'ip_forward', 'root-dir']) {
      assert.ok(names.includes(name), `check ${name} present`);
    }
    // What the host allows: a PVM host is reported as such, any other host as not PVM.
    const pvm = report.checks.find((c) => c.name === 'pvm');
    if (existsSync('/sys/module/kvm_pvm')) assert.deepEqual([pvm?.status, pvm?.detail], ['warn', 'KVM is PVM: stock kernels hang, TCG will be used']);
    else assert.deepEqual([pvm?.status, pvm?.detail], ['ok', 'KVM is not PVM']);
  });

  it('prints one line per check in text mode', async () => {
    const r = await doctor(['check']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ok {4}qemu-img {5}\//m);
  });

  it('fails with exit 3 and names the package when a tool is missing', async () => {
    // Without /usr/sbin on PATH, mke2fs, ip and tc are not found.
    const r = await doctor(['check', '--json'], { PATH: '/usr/bin:/bin' });
    assert.equal(r.code, 3);
    const report = parseReport(r.stdout);
    assert.equal(report.ok, false);
    const mke2fs = report.checks.find((c) => c.name === 'mke2fs');
    assert.equal(mke2fs?.status, 'fail');
    assert.match(mke2fs?.detail ?? '', /Debian package e2fsprogs/);
    assert.match(r.stderr, /required check\(s\) failed/);
  });

  it('fails when the root dir cannot be written', async () => {
    const r = await doctor(['check', '--json'], { COCOON_ROOT_DIR: '/proc/cocoon-doctor-test' });
    assert.equal(r.code, 3);
    const root = parseReport(r.stdout).checks.find((c) => c.name === 'root-dir');
    assert.equal(root?.status, 'fail');
  });

  it('rejects unknown commands and options with exit 2', async () => {
    assert.equal((await doctor(['frobnicate'])).code, 2);
    assert.equal((await doctor(['check', '--yaml'])).code, 2);
    assert.equal((await doctor([])).code, 2);
  });
});

/** A PATH whose dpkg-query reports `missing` as not installed, apt-get logs its argv, id -u says root. */
function fakeApt(name: string, missing: string[], aptCacheKnows: boolean): { path: string; log: string } {
  const bin = mkdtempSync(join(work, `${name}-`));
  const log = join(bin, 'apt.log');
  const script = (body: string) => `#!/usr/bin/env bash\n${body}\n`;
  writeFileSync(join(bin, 'dpkg-query'), script(`for p in ${missing.join(' ')}; do [[ "\${@: -1}" == "$p" ]] && { echo not-installed; exit 0; }; done; echo installed`));
  writeFileSync(join(bin, 'apt-cache'), script(aptCacheKnows ? 'exit 0' : 'exit 100'));
  writeFileSync(join(bin, 'apt-get'), script(`echo "$*" >> ${log}`));
  // install refuses non-root callers; the stand-ins make the test independent of the user.
  writeFileSync(join(bin, 'id'), script('[[ "$1" == -u ]] && { echo 0; exit 0; }; exec /usr/bin/id "$@"'));
  for (const f of ['dpkg-query', 'apt-cache', 'apt-get', 'id']) chmodSync(join(bin, f), 0o755);
  return { path: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, log };
}

describe('cocoon-doctor install', () => {
  it('does nothing (no apt-get at all) when every package is installed', async () => {
    const fake = fakeApt('none', [], true);
    const r = await doctor(['install'], { PATH: fake.path });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /nothing to do/);
    assert.equal(existsSync(fake.log), false);
  });

  it('installs every missing package in one apt-get call, without update when apt knows them', async () => {
    const fake = fakeApt('two', ['tmux', 'skopeo'], true);
    const r = await doctor(['install'], { PATH: fake.path });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readFileSync(fake.log, 'utf8').trim().split('\n'), ['install -y -q --no-install-recommends skopeo tmux']);
  });

  it('runs apt-get update once first when apt does not know a missing package', async () => {
    const fake = fakeApt('upd', ['hyperfine'], false);
    const r = await doctor(['install'], { PATH: fake.path });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readFileSync(fake.log, 'utf8').trim().split('\n'), ['update -q', 'install -y -q --no-install-recommends hyperfine']);
  });

  it('installs the package of every host tool cocoon runs: one map, libs/common/src/host-tools.json', async () => {
    const map = JSON.parse(readFileSync(new URL('../libs/common/src/host-tools.json', import.meta.url), 'utf8')) as Record<string, string>;
    const r = await doctor(['packages']);
    assert.equal(r.code, 0, r.stderr);
    const packages = r.stdout.trim().split('\n');
    for (const [tool, pkg] of Object.entries(map)) assert.ok(packages.includes(pkg), `${tool}: ${pkg} is installed by the doctor`);
    assert.deepEqual(Object.keys(PACKAGE_OF).sort(), Object.keys(map).sort(), 'exec.ts reads the same map');
  });
});

