import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BusyError } from '../../errors.ts';
import { tryLock } from '../../store/lock.ts';
import { agentPool, claimPort, recordServedPorts, servedPorts } from './agent-pool.ts';

const dir = mkdtempSync(join(tmpdir(), 'cocoon-pool-'));
const pool = agentPool(dir);
after(() => rmSync(dir, { recursive: true, force: true }));

describe('agent port pool', () => {
  it('claims the first free port, remembers an unclean end, forgets a clean one', async () => {
    const a = await claimPort(pool, 2);
    const b = await claimPort(pool, 2);
    assert.deepEqual([a.port, b.port, a.dirty, b.dirty], [0, 1, false, false]);
    a.release(false);
    b.release(true);
    const again = await claimPort(pool, 2);
    assert.deepEqual([again.port, again.dirty], [0, true]);
    again.release(true);
    const last = await claimPort(pool, 2);
    assert.equal(last.dirty, false);
    last.release(true);
  });

  it('says "busy" after a bounded wait when every port is taken, and waits for one that frees', async () => {
    const held = [tryLock(pool.lock(0)), tryLock(pool.lock(1))];
    const t0 = Date.now();
    await assert.rejects(claimPort(pool, 2, Date.now() + 300), (err: Error) => err instanceof BusyError && /all 2 agent ports of this VM are busy/.test(err.message));
    assert.ok(Date.now() - t0 < 2000, 'the wait is bounded');
    setTimeout(() => held[1]?.release(), 150);
    const claim = await claimPort(pool, 2, Date.now() + 3000);
    assert.equal(claim.port, 1);
    claim.release(true);
    held[0]?.release();
  });

  it('frees the port of a client that is killed, and marks it unclean', async () => {
    // A real process claims port 0 and is SIGKILLed while "in a session".
    const here = fileURLToPath(new URL('.', import.meta.url));
    const script = `import { claimPort, agentPool } from '${join(here, 'agent-pool.ts')}'; const c = await claimPort(agentPool(${JSON.stringify(dir)}), 1); console.log('claimed', c.port); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.on('data', (b: Buffer) => b.toString().includes('claimed') && resolve()));
    assert.equal(tryLock(pool.lock(0)), null, 'the child holds port 0');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const claim = await claimPort(pool, 1, Date.now() + 1000);
    assert.deepEqual([claim.port, claim.dirty], [0, true]);
    claim.release(true);
  });

  it('uses port 0 only until an agent said it serves more', () => {
    assert.equal(servedPorts(pool), 1);
    recordServedPorts(pool, 8);
    assert.equal(servedPorts(pool), 8);
    recordServedPorts(pool, 99);
    assert.equal(servedPorts(pool), 8, 'never more than the VM has');
  });
});

