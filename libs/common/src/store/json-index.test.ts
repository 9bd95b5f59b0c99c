import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { BusyError, ConflictError } from '../errors.ts';
import { JsonIndex } from './json-index.ts';
import { acquireLock } from './lock.ts';

const writer = fileURLToPath(new URL('./fixtures/writer.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'cocoon-index-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const schema = z.object({ id: z.string(), name: z.string(), count: z.number(), pad: z.string() });
const indexAt = (name: string) => new JsonIndex({ file: join(dir, name, 'index.json'), lockFile: join(dir, name, 'index.lock'), schema, kind: 'counter' });

function child(args: string[]) {
  return spawn(process.execPath, ['--import', 'tsx', writer, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
}

describe('JsonIndex', () => {
  it('loses no update with four writer processes', async () => {
    const idx = indexAt('count');
    const procs = Array.from({ length: 4 }, () => child([idx.opts.file, idx.opts.lockFile, 'count', '25']));
    const codes = await Promise.all(procs.map((p) => new Promise<number | null>((r) => p.on('exit', r))));
    assert.deepEqual(codes, [0, 0, 0, 0]);
    assert.equal((await idx.load()).get('c')?.count, 100);
  });

  it('keeps the previous good file when a writer is SIGKILLed mid-write, and the kernel frees the lock', async () => {
    const idx = indexAt('kill');
    await idx.update((items) => void items.set('c', { id: 'c', name: 'counter', count: 0, pad: '' }));
    const p = child([idx.opts.file, idx.opts.lockFile, 'big']);
    await new Promise<void>((r) => p.stdout.once('data', () => r()));
    await new Promise((r) => setTimeout(r, 400));
    p.kill('SIGKILL');
    await new Promise((r) => p.on('exit', r));
    const after = (await idx.load()).get('c');
    assert.ok(after && after.count >= 0, 'index still parses');
    const lock = await acquireLock(idx.opts.lockFile, { timeoutMs: 500 });
    lock.release();
    const leftovers = readdirSync(join(dir, 'kill')).filter((f) => f.includes('.tmp-'));
    assert.ok(leftovers.length <= 1, 'at most the killed writer\'s temp file is left');
  });

  it('does not write when the update function throws', async () => {
    const idx = indexAt('throw');
    await idx.update((items) => void items.set('a', { id: 'a', name: 'a', count: 1, pad: '' }));
    await assert.rejects(idx.update((items) => {
      items.set('b', { id: 'b', name: 'b', count: 1, pad: '' });
      throw new ConflictError('no');
    }), ConflictError);
    assert.deepEqual([...(await idx.load()).keys()], ['a']);
  });

  it('refuses to write an invalid record', async () => {
    const idx = indexAt('invalid');
    await assert.rejects(idx.update((items) => void items.set('x', { id: 'x' } as never)));
    assert.equal((await idx.load()).size, 0);
  });

  it('times out with a BusyError while another process holds the lock', async () => {
    const idx = indexAt('busy');
    const held = await acquireLock(idx.opts.lockFile);
    try {
      const other = new JsonIndex({ ...idx.opts, lockTimeoutMs: 100 });
      await assert.rejects(other.update(() => undefined), BusyError);
    } finally {
      held.release();
    }
  });
});
