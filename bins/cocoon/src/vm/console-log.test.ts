import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, describe, it } from 'node:test';
import { vmPaths } from '@cocoon/common/hypervisor/index';
import { layoutOf } from '@cocoon/common/layout';
import { follow, lastLines, selectParts, writeParts } from './console-log.ts';

const root = mkdtempSync(join(tmpdir(), 'cocoon-console-log-'));
after(() => rmSync(root, { recursive: true, force: true }));
const layout = layoutOf({ root_dir: root, run_dir: join(root, 'run'), log_dir: join(root, 'log') });
let n = 0;
function vm() {
  const paths = vmPaths(layout, String(++n).padStart(32, '0'));
  mkdirSync(paths.logDir, { recursive: true });
  return paths;
}
function sink(): { out: PassThrough; text: () => string } {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  return { out, text: () => text };
}
const mark = (time: number, offset: number, event = 'start') => `${JSON.stringify({ time: new Date(time).toISOString(), offset, event })}\n`;
const at = (file: string, ms: number) => utimesSync(file, new Date(ms), new Date(ms));

describe('console log selection', () => {
  it('prints every generation oldest first, and only the last N lines with --tail', () => {
    const p = vm();
    writeFileSync(`${p.consoleLog}.2`, 'a1\na2\n');
    writeFileSync(`${p.consoleLog}.1`, 'b1\nb2\n');
    writeFileSync(p.consoleLog, 'c1\nc2\r\nc3');
    const all = sink();
    const pos = writeParts(selectParts(p, null), null, all.out);
    assert.equal(all.text(), 'a1\na2\nb1\nb2\nc1\nc2\r\nc3');
    assert.equal(pos, 'c1\nc2\r\nc3'.length);
    const tail = sink();
    writeParts(selectParts(p, null), 4, tail.out);
    assert.equal(tail.text(), 'b2\nc1\nc2\r\nc3');
    assert.equal(lastLines(Buffer.from('x\ny\n'), 1).toString(), 'y\n');
    assert.equal(lastLines(Buffer.from('x\ny\n'), 0).toString(), '');
    assert.equal(lastLines(Buffer.from('x\ny\n'), 9).toString(), 'x\ny\n');
  });

  it('--since skips generations written before T and starts at the last mark at or before T', () => {
    const p = vm();
    const t0 = Date.now() - 3_600_000;
    writeFileSync(`${p.consoleLog}.1`, 'old boot\n');
    at(`${p.consoleLog}.1`, t0);
    writeFileSync(p.consoleLog, 'boot one\nboot two\n');
    writeFileSync(`${p.logDir}/console.marks`, mark(t0 + 1000, 0) + mark(t0 + 2000, 9, 'stop') + mark(t0 + 3000, 9));
    const since = (t: number) => {
      const s = sink();
      writeParts(selectParts(p, t), null, s.out);
      return s.text();
    };
    assert.equal(since(t0 + 2500), 'boot two\n', 'from the stop mark before T');
    assert.equal(since(t0 + 500), 'boot one\nboot two\n', 'before every mark: the whole file');
    assert.equal(since(Date.now() + 60_000), '', 'nothing written after a future T');
  });
});

describe('following', () => {
  it('prints appended output, starts over after a rotation, and drains once the VM is gone', async () => {
    const p = vm();
    writeFileSync(p.consoleLog, 'before\n');
    const s = sink();
    let alive = true;
    const done = follow(p.consoleLog, 'before\n'.length, s.out, async () => alive);
    appendFileSync(p.consoleLog, 'one\n');
    await until(() => s.text() === 'one\n');
    renameSync(p.consoleLog, `${p.consoleLog}.1`);
    writeFileSync(p.consoleLog, 'after rotation\n');
    await until(() => s.text() === 'one\nafter rotation\n');
    appendFileSync(p.consoleLog, 'last words\n');
    alive = false;
    await done;
    assert.equal(s.text(), 'one\nafter rotation\nlast words\n');
  });
});

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
