/**
 * Tests of the packaged multi-call executable (dist/bin, made by `npm run build`): its
 * names, per-tool bundles and code caches. They run the real single executable.
 */
import { strict as assert } from 'node:assert';
import { cpSync, existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { spawn } from '@cocoon/common/exec';
import { TOOL_LINKS } from './package.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'dist', 'bin');
const VERSION: string = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const work = mkdtempSync(join(tmpdir(), 'cocoon-package-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

async function exec(file: string, args: string[], env: Record<string, string> = {}) {
  const r = await spawn(file, args, { reject: false, stripFinalNewline: false, env: { ...process.env, ...env }, extendEnv: false });
  return { code: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

describe('dist/bin (multi-call single executable)', () => {
  before(() => {
    assert.ok(existsSync(join(BIN, 'cocoon')), `${BIN}/cocoon is missing: run "npm run build" first`);
  });

  it('has one executable, relative symlinks for every tool and the native addon', () => {
    assert.ok(lstatSync(join(BIN, 'cocoon')).isFile());
    for (const name of TOOL_LINKS) assert.equal(readlinkSync(join(BIN, name)), 'cocoon', name);
    assert.ok(lstatSync(join(BIN, 'cocoon_native.node')).isFile());
  });

  it('ships the licences of what it contains beside it (the bundles carry no legal comments)', () => {
    const notices = readFileSync(join(BIN, 'THIRD-PARTY-NOTICES.txt'), 'utf8');
    for (const pkg of ['clipanion', 'zod', 'execa', 'pino', 'tar-stream', 'node-pty', 'undici', 'Node.js']) {
      assert.match(notices, new RegExp(`^${pkg.replace('.', '\\.')}(@| v)\\S+ \\(`, 'm'), pkg);
    }
    assert.match(notices, /Permission is hereby granted, free of charge/, 'licence texts, not only names');
  });

  it('answers --version under every name', async () => {
    for (const name of ['cocoon', ...TOOL_LINKS]) {
      const r = await exec(join(BIN, name), ['--version']);
      assert.equal(r.code, 0, `${name}: ${r.stderr}`);
      assert.equal(r.stdout.trim(), VERSION, name);
    }
  });

  it('runs the tool named by the symlink (cocoon-image --help)', async () => {
    const r = await exec(join(BIN, 'cocoon-image'), ['--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /cocoon-image/);
    assert.doesNotMatch(r.stdout, /\$ cocoon-gc/);
  });

  it('rejects an unknown name with one line and exit 2, and honours COCOON_TOOL', async () => {
    const odd = join(work, 'not-a-tool');
    symlinkSync(join(BIN, 'cocoon'), odd);
    const r = await exec(odd, ['--version']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /unknown tool "not-a-tool"/);
    const o = await exec(odd, ['--version'], { COCOON_TOOL: 'cocoon-net' });
    assert.equal(o.code, 0, o.stderr);
    assert.equal(o.stdout.trim(), VERSION);
  });

  it('still runs, native addon included, when the folder is copied elsewhere (cp -a)', async () => {
    const copy = join(work, 'copied-bin');
    cpSync(BIN, copy, { recursive: true, verbatimSymlinks: true });
    assert.equal(readlinkSync(join(copy, 'cocoon-gc')), 'cocoon');
    const r = await exec(join(copy, 'cocoon-gc'), ['--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /cocoon-gc/);
    // `image rm` takes the images lock (flock through the native addon beside the copy).
    const root = join(work, 'copied-root');
    const rm = await exec(join(copy, 'cocoon-image'), ['rm', 'no-such-image'], { COCOON_ROOT_DIR: root, COCOON_LOG_DIR: join(root, 'log') });
    assert.doesNotMatch(rm.stderr, /cocoon_native\.node not found/);
    assert.equal(rm.code, 3, rm.stderr);
  });
});

describe('multi-call loader (scripts/sea-loader.cjs)', () => {
  it('does not pass COCOON_TOOL on to the tools it starts (cocoon image -> cocoon-image)', async () => {
    // Were the override inherited, the started cocoon-image would run as cocoon again.
    const r = await exec(join(BIN, 'cocoon'), ['image', '--help'], { COCOON_TOOL: 'cocoon' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\$ cocoon-image <command>/);
  });

  it('gives every tool its own bundle and trained code cache', async () => {
    for (const name of ['cocoon', ...TOOL_LINKS]) {
      const r = await exec(join(BIN, name), ['--version'], { COCOON_DEBUG_CODE_CACHE: '1' });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`^${name}: code cache accepted$`, 'm'));
    }
  });
});

describe('per-bin bundles', () => {
  it('keeps each bin runnable from its own per-bin bundle', async () => {
    const own = join(ROOT, 'bins', 'cocoon-gc', 'dist', 'cocoon-gc.cjs');
    assert.ok(existsSync(own), `${own} is missing: run "npm run build" first`);
    const r = await exec(process.execPath, [own, '--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${VERSION}\n`);
  });
});
