/**
 * Commands interrupted the hard way, with the built executables: a dispatched tool dies with
 * its front end (the front end execs it: one process), SIGTERM removes the command's temp
 * files at once, and after SIGKILL the next command that uses the temp dir sweeps them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { execa, type ResultPromise } from 'execa';
import { BIN, requireTools } from '../helpers/cocoon.ts';
import { deadOwnerTemps, processesWithEnv } from '../helpers/leftovers.ts';

const scratch = mkdtempSync(join(tmpdir(), 'cocoon-interrupted-'));
const root = join(scratch, 'root');
const env = { COCOON_ROOT_DIR: root, COCOON_RUN_DIR: join(scratch, 'run'), COCOON_LOG_DIR: join(scratch, 'log') };
after(() => rmSync(scratch, { recursive: true, force: true }));

/** `cocoon image import NAME -` fed zeros without end (as `cat /dev/zero |` would). */
function endlessImport(name: string): ResultPromise {
  const zeros = Buffer.alloc(1 << 20);
  const stdin = new Readable({ read() { this.push(zeros); } });
  const child = execa(join(BIN, 'cocoon'), ['image', 'import', name, '-'], { env, reject: false, stdin: 'pipe' });
  stdin.pipe(child.stdin as NodeJS.WritableStream);
  child.stdin?.on('error', () => undefined);
  return child;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tmpEntries = () => { try { return readdirSync(join(root, 'tmp')); } catch { return []; } };

describe('interrupted commands', () => {
  before(() => requireTools());

  it('kill -9 of the front end kills the dispatched tool: nothing writes on, no image appears', async () => {
    const child = endlessImport('zeros');
    await sleep(2000);
    assert.ok(tmpEntries().length > 0, 'the import was writing its temp file');
    child.kill('SIGKILL');
    const r = await child;
    assert.equal(r.signal, 'SIGKILL');
    await sleep(500);
    assert.deepEqual(processesWithEnv('COCOON_ROOT_DIR', root), [], 'no cocoon-image (or child of it) outlives the front end');
    const sizes = () => tmpEntries().join(',');
    const before = sizes();
    await sleep(1500);
    assert.equal(sizes(), before, 'nothing is being written any more');
    const ls = await execa(join(BIN, 'cocoon'), ['image', 'ls', '-o', 'json'], { env });
    assert.deepEqual(JSON.parse(ls.stdout), []);
    // The dead import's temp file stays until the next command that uses the temp dir.
    assert.ok(deadOwnerTemps(join(root, 'tmp')).length > 0);
    const next = await execa(join(BIN, 'cocoon'), ['image', 'import', 'bad', '-'], { env, reject: false, input: 'not an image\n' });
    assert.equal(next.exitCode, 9, next.stderr);
    assert.deepEqual(deadOwnerTemps(join(root, 'tmp')), [], 'swept by the next import');
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} reaches the tool, which removes its temp files and dies of the signal`, async () => {
      const child = endlessImport(`zeros-${signal}`);
      await sleep(2000);
      assert.ok(tmpEntries().length > 0, 'the import was writing its temp file');
      child.kill(signal);
      const r = await child;
      assert.equal(r.signal, signal, `exit ${r.exitCode}: ${r.stderr}`);
      assert.deepEqual(tmpEntries(), [], 'its own temp files are gone at once');
      assert.deepEqual(processesWithEnv('COCOON_ROOT_DIR', root), []);
    });
  }
});
