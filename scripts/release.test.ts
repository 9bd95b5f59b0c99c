/**
 * The release tarball (scripts/release.mjs) and install.sh: built from the real dist/bin,
 * checked against its SHA256SUMS, installed into a temporary prefix and run from there.
 */
import { strict as assert } from 'node:assert';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { run, spawn } from '@cocoon/common/exec';
import { release } from './release.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(join(tmpdir(), 'cocoon-release-test-'));
after(() => rmSync(work, { recursive: true, force: true }));
const TOOLS = ['cocoon', 'cocoon-image', 'cocoon-net', 'cocoon-snap', 'cocoon-console', 'cocoon-gc', 'cocoon-agent'];
/** No dist/bin on PATH: what runs must come from the prefix. */
const PATH = '/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin';

async function exec(file: string, args: string[], cwd?: string) {
  const r = await spawn(file, args, { reject: false, cwd, env: { PATH, HOME: work }, extendEnv: false });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

describe('release tarball and install.sh', () => {
  let tarball = '';
  let name = '';
  let unpacked = '';
  before(async () => {
    ({ tarball, name } = release(join(work, 'out')));
    await run('tar', ['-xzf', tarball, '-C', work]);
    unpacked = join(work, name);
  });

  it('holds the executable with its tool names, the addons, the doctor, the agent unit and install.sh, owned by root', async () => {
    assert.equal((await exec('sha256sum', ['--check', '--strict', 'SHA256SUMS'], join(work, 'out'))).code, 0, 'the tarball matches SHA256SUMS');
    const listing = (await run('tar', ['-tvzf', tarball])).stdout;
    for (const f of ['bin/cocoon', 'bin/cocoon_native.node', 'bin/pty.node', 'doctor/cocoon-doctor', 'doctor/check.sh', 'systemd/cocoon-agent.service', 'install.sh', 'SHA256SUMS']) {
      assert.match(listing, new RegExp(` 0/0 .* ${name}/${f.replace('.', '\\.')}$`, 'm'), f);
    }
    for (const t of TOOLS.slice(1)) assert.equal(readlinkSync(join(unpacked, 'bin', t)), 'cocoon');
    assert.equal((await exec('sha256sum', ['--check', '--strict', 'SHA256SUMS'], unpacked)).code, 0, 'every file matches the inner SHA256SUMS');
  });

  it('installs into a prefix; cocoon, every tool, dispatch and the doctor run from there', async () => {
    const prefix = join(work, 'prefix');
    const r = await exec('sh', [join(unpacked, 'install.sh'), '--prefix', prefix]);
    assert.equal(r.code, 0, r.stderr);
    const version = await exec(join(prefix, 'bin', 'cocoon'), ['version', '--format', 'json']);
    assert.equal(version.code, 0, version.stderr);
    const built = JSON.parse((await exec(join(ROOT, 'dist', 'bin', 'cocoon'), ['version', '--format', 'json'])).stdout) as object;
    assert.deepEqual(JSON.parse(version.stdout), built, 'the same build');
    for (const t of TOOLS) {
      assert.equal(readlinkSync(join(prefix, 'bin', t)), `../lib/cocoon/${t}`);
      assert.equal((await exec(join(prefix, 'bin', t), ['--version'])).stdout.trim(), JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version, t);
    }
    const dispatched = await exec(join(prefix, 'bin', 'cocoon'), ['image', '--help']);
    assert.equal(dispatched.code, 0, dispatched.stderr);
    assert.match(dispatched.stdout, /cocoon-image/);
    assert.equal((await exec(join(prefix, 'bin', 'cocoon-doctor'), ['--help'])).code, 0);
    assert.ok(lstatSync(join(prefix, 'share', 'cocoon', 'cocoon-agent.service')).isFile());
    // Installing again (an upgrade) replaces the files and keeps working.
    assert.equal((await exec('sh', [join(unpacked, 'install.sh'), `--prefix=${prefix}`])).code, 0);
    assert.equal((await exec(join(prefix, 'bin', 'cocoon'), ['version'])).code, 0);
  });

  it('refuses a release that does not match its SHA256SUMS, installing nothing', async () => {
    writeFileSync(join(unpacked, 'doctor', 'check.sh'), '#!/bin/sh\necho tampered\n');
    const prefix = join(work, 'tampered');
    const r = await exec('sh', [join(unpacked, 'install.sh'), '--prefix', prefix]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /does not match its SHA256SUMS; nothing was installed/);
    assert.equal(existsSync(prefix), false);
    assert.equal((await exec('sh', [join(unpacked, 'install.sh'), '--bogus'])).code, 2);
  });
});
