import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { procStat, selfIdentity } from '../proc.ts';
import { makeTempDir, ownerOf, ownerTag, sweepDeadOwners, tempPath } from './temp.ts';

const dir = mkdtempSync(join(tmpdir(), 'cocoon-temp-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The PID of a process that has exited (and been reaped). */
function deadPid(): number {
  return Number(spawnSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' }).stdout.trim());
}

describe('owned temp files', () => {
  it('names carry the owner: PID and start time', () => {
    const me = selfIdentity();
    assert.equal(me.start, procStat(process.pid)?.start);
    assert.equal(ownerTag(), `${process.pid}.${me.start}`);
    const p = tempPath(dir, 'cloud');
    assert.deepEqual(ownerOf(p.split('/').pop() ?? ''), { pid: process.pid, start: me.start });
    assert.deepEqual(ownerOf('.index.json.tmp-12.34-ab'), { pid: 12, start: 34 });
    assert.deepEqual(ownerOf('import-77-Xy12ab'), { pid: 77, start: null }, 'cocoon 0.1 names: PID only');
    assert.equal(ownerOf('index.json'), null);
    assert.equal(ownerOf('blobs'), null);
  });

  it('sweeps the temps of dead owners and of a reused PID (other start time), keeps the living', async () => {
    const sweep = join(dir, 'sweep');
    mkdirSync(sweep);
    const dead = deadPid();
    const mine = await makeTempDir(sweep, 'import');
    writeFileSync(join(sweep, `cloud-${dead}.1-aa`), 'x');
    writeFileSync(join(sweep, `pull-${dead}-bb`), 'x');
    // This PID, but started at another time: a PID the kernel reused.
    writeFileSync(join(sweep, `cloud-${process.pid}.${selfIdentity().start + 1}-cc`), 'x');
    writeFileSync(join(sweep, 'index.json'), '{}');
    const removed = sweepDeadOwners(sweep).sort();
    assert.deepEqual(removed, [`cloud-${dead}.1-aa`, `cloud-${process.pid}.${selfIdentity().start + 1}-cc`, `pull-${dead}-bb`].sort());
    assert.ok(existsSync(mine));
    assert.deepEqual(readdirSync(sweep).sort(), [mine.split('/').pop(), 'index.json'].sort());
  });
});
