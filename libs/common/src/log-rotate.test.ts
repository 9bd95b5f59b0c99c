import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generations, logBytes, rotateIfNeeded, rotateLocked } from './log-rotate.ts';
import { acquireLock } from './store/lock.ts';

const dir = mkdtempSync(join(tmpdir(), 'cocoon-rotate-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const writer = fileURLToPath(new URL('./fixtures/log-writer.ts', import.meta.url));
/** Runs one log-writer child (starting at `startAt`) and resolves with its exit code. */
function writeLine(logDir: string, startAt = 0): Promise<number> {
  return new Promise((resolve) => spawn(process.execPath, ['--import', 'tsx', writer, logDir, '4096', String(startAt)], { stdio: 'inherit' }).on('exit', (c) => resolve(c ?? -1)));
}
const policy = { maxBytes: 100, maxFiles: 2, maxAgeMs: 0 };

function fresh(name: string): string {
  const d = join(dir, name);
  mkdirSync(d);
  return join(d, 'x.log');
}

describe('log rotation', () => {
  it('rotates past the size, keeps at most maxFiles generations, moves companions along', () => {
    const f = fresh('count');
    const marks = `${f}.marks`;
    for (const gen of ['a', 'b', 'c']) {
      writeFileSync(f, gen.repeat(101));
      writeFileSync(marks, gen);
      assert.equal(rotateIfNeeded(f, policy, { companions: [marks] }), true);
    }
    assert.deepEqual(generations(f), [`${f}.1`, `${f}.2`]);
    assert.equal(readFileSync(`${f}.1`, 'utf8'), 'c'.repeat(101));
    assert.equal(readFileSync(`${f}.2`, 'utf8'), 'b'.repeat(101));
    assert.equal(readFileSync(`${marks}.1`, 'utf8'), 'c');
    assert.equal(existsSync(f), false);
    writeFileSync(f, 'small');
    assert.equal(rotateIfNeeded(f, policy), false, 'under the size: no rotation');
    assert.equal(logBytes(f), 5 + 202);
  });

  it('deletes generations older than maxAge, with their companions', () => {
    const f = fresh('age');
    writeFileSync(`${f}.1`, 'new');
    writeFileSync(`${f}.2`, 'old');
    writeFileSync(`${f}.marks.2`, 'old');
    const old = new Date(Date.now() - 3 * 86_400_000);
    utimesSync(`${f}.2`, old, old);
    rotateIfNeeded(f, { maxBytes: 100, maxFiles: 5, maxAgeMs: 86_400_000 }, { companions: [`${f}.marks`] });
    assert.deepEqual(generations(f), [`${f}.1`]);
    assert.equal(existsSync(`${f}.marks.2`), false);
  });

  it('copies and truncates a file a live writer holds open', () => {
    const f = fresh('copy');
    writeFileSync(f, 'z'.repeat(150));
    assert.equal(rotateIfNeeded(f, policy, { copyTruncate: true }), true);
    assert.equal(readFileSync(f, 'utf8'), '');
    assert.equal(readFileSync(`${f}.1`, 'utf8'), 'z'.repeat(150));
  });

  it('a process opening a full engine log leaves it alone while another holds the rotation lock, and rotates it after', async () => {
    const logDir = join(dir, 'held');
    mkdirSync(logDir);
    const file = join(logDir, 'cocoon.log');
    writeFileSync(file, 'o'.repeat(5000));
    const held = await acquireLock(`${file}.lock`);
    try {
      assert.equal(await writeLine(logDir), 0);
      assert.equal(existsSync(`${file}.1`), false, 'no rotation while another process rotates');
      assert.match(readFileSync(file, 'utf8'), /^o{5000}\{.*"msg":"written"/);
    } finally {
      held.release();
    }
    assert.equal(await writeLine(logDir), 0);
    assert.match(readFileSync(`${file}.1`, 'utf8'), /^o{5000}/);
    assert.equal(rotateLocked(file, { maxBytes: 4096, maxFiles: 5, maxAgeMs: 0 }), false, 're-checked: nothing due any more');
  });

  it('rotates the engine log exactly once when many processes open a full log at the same moment', async () => {
    const logDir = join(dir, 'engine');
    mkdirSync(logDir);
    const original = `${'{"old":true}\n'.repeat(400)}`;
    writeFileSync(join(logDir, 'cocoon.log'), original);
    const startAt = Date.now() + 2500;
    const codes = await Promise.all(Array.from({ length: 12 }, () => writeLine(logDir, startAt)));
    assert.deepEqual(codes, Array(12).fill(0));
    assert.equal(readFileSync(join(logDir, 'cocoon.log.1'), 'utf8'), original, 'the old log is one generation, intact');
    assert.equal(existsSync(join(logDir, 'cocoon.log.2')), false, 'rotated once, not once per process');
    const lines = readFileSync(join(logDir, 'cocoon.log'), 'utf8').trim().split('\n');
    assert.equal(lines.filter((l) => l.includes('"msg":"written"')).length, 12, 'no process lost its line');
  });
});
