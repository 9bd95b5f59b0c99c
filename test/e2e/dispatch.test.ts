/**
 * Git-style dispatch with the built executables: `cocoon <noun>` runs `cocoon-<noun>`,
 * global flags travel down, exit codes and signals pass through, a missing tool is named.
 */
import assert from 'node:assert/strict';
import { linkSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { BIN, cocoon, requireTools } from '../helpers/cocoon.ts';

const scratch = mkdtempSync(join(tmpdir(), 'cocoon-dispatch-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

describe('dispatch through dist/bin/cocoon', () => {
  before(() => requireTools());

  it('runs cocoon-image for `cocoon image` and passes global flags down', async () => {
    const r = await cocoon(['--root-dir', join(scratch, 'empty-root'), 'image', 'ls', '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), []);
  });

  it('passes the sub-tool exit code and its one-line error through', async () => {
    const r = await cocoon(['image', 'inspect', 'no-such-image']);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /^cocoon-image: .*no-such-image/);
    const net = await cocoon(['net', 'inspect', '0123456789abcdef0123456789abcdef']);
    assert.equal(net.code, 3);
    assert.match(net.stderr, /^cocoon-net: network not found/);
  });

  it('re-raises the signal that killed the sub-tool', async () => {
    // `image import NAME -` waits on stdin; SIGTERM to cocoon goes to the child, which dies of it.
    const child = execa(join(BIN, 'cocoon'), ['--root-dir', join(scratch, 'sig-root'), 'image', 'import', 'sig', '-'], { reject: false, stdin: 'pipe' });
    await new Promise((r) => setTimeout(r, 1500));
    child.kill('SIGTERM');
    const result = await child;
    assert.equal(result.signal, 'SIGTERM', `exit ${result.exitCode}: ${result.stderr}`);
  });

  it('names a missing sub-tool with exit 8', async () => {
    const lonely = join(scratch, 'lonely');
    await execa('mkdir', ['-p', lonely]);
    linkSync(join(BIN, 'cocoon'), join(lonely, 'cocoon'));
    const r = await execa(join(lonely, 'cocoon'), ['image', 'ls'], { reject: false, env: { PATH: '/usr/bin:/bin' }, extendEnv: false });
    assert.equal(r.exitCode, 8, String(r.stderr));
    assert.match(String(r.stderr), /^cocoon: cocoon-image not found/);
  });
});
