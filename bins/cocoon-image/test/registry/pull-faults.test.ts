/**
 * Pull into a real store against a real registry: concurrent pulls sharing layers, hostile
 * layers, a lying manifest, registry failures mid-pull, and the image lock during downloads.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { resolveConfig } from '@cocoon/common/config';
import { CocoonError, ExitCode } from '@cocoon/common/errors';
import { imageIndex } from '@cocoon/common/images/store';
import { layoutOf, type Layout } from '@cocoon/common/layout';
import { acquireLock } from '@cocoon/common/store/lock';
import { ProgressEventSchema, type ProgressEvent } from '@cocoon/common/schemas/progress';
import { pushOciLayout, startFaultProxy, startRegistry, type TestRegistry } from '../../../../test/helpers/registry.ts';
import { createProgress } from '../../src/progress/index.ts';
import { pullImage } from '../../src/registry/pull.ts';
import { makeTar } from '../import-fixtures.ts';
import { buildImage, guestLayers, type BuiltImage } from './fixtures.ts';

const work = mkdtempSync(join(tmpdir(), 'cocoon-pull-faults-'));
let reg: TestRegistry;
const images = new Map<string, BuiltImage>();

function store(): { config: ReturnType<typeof resolveConfig>; layout: Layout } {
  const root = mkdtempSync(join(work, 'root-'));
  const config = resolveConfig({ root_dir: root, log_dir: join(root, 'log') });
  return { config, layout: layoutOf(config) };
}

/** Every file under the store (minus logs and lock files), for "unchanged" checks. */
function files(layout: Layout): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(p.slice(layout.root.length));
    }
  };
  for (const d of [layout.images.dir, layout.tmp]) walk(d);
  return out.sort();
}

async function push(tag: string, layers: Parameters<typeof buildImage>[2]): Promise<void> {
  const dir = join(work, `img-${tag}`);
  images.set(tag, await buildImage(dir, 'v1', layers));
  await pushOciLayout(dir, 'v1', `${reg.host}/faults/img:${tag}`);
}

const pullOpts = (host: string, tag: string, more = {}) => ({ reference: `${host}/faults/img:${tag}`, env: {}, ...more });

before(async () => {
  reg = await startRegistry();
  const [boot, app] = guestLayers('shared');
  await push('a', [boot ?? {}, app ?? {}, { 'srv/a': 'only a' }]);
  await push('b', [boot ?? {}, app ?? {}, { 'srv/b': 'only b' }]);
  await push('dotdot', [boot ?? {}, await makeTar([{ name: '../evil', data: 'x' }])]);
  await push('absolute', [boot ?? {}, await makeTar([{ name: '/etc/evil', data: 'x' }])]);
  await push('symlink', [boot ?? {}, await makeTar([{ name: 'a', type: 'symlink', linkname: '/etc' }, { name: 'a/passwd', data: 'x' }])]);
});
after(async () => {
  await reg.stop();
  rmSync(work, { recursive: true, force: true });
});

test('two concurrent pulls of images sharing layers: both succeed, each layer stored once', async () => {
  const ctx = store();
  const [a, b] = await Promise.all([pullImage(ctx, pullOpts(reg.host, 'a')), pullImage(ctx, pullOpts(reg.host, 'b'))]);
  assert.equal(a.record.layers[0]?.digest, b.record.layers[0]?.digest);
  const unique = new Set([...a.record.layers, ...b.record.layers].map((l) => l.digest));
  assert.equal(unique.size, 4);
  const disks = readdirSync(ctx.layout.images.blobs);
  assert.deepEqual(disks.sort(), [...unique].map((d) => `${d.slice(7)}.erofs`).sort());
  assert.deepEqual((await imageIndex(ctx.layout).list()).map((r) => r.name).sort(), [a.record.name, b.record.name].sort());
  assert.deepEqual(readdirSync(ctx.layout.tmp), []);
});

test('hostile layers (../, absolute path, symlink escape) are refused, the store unchanged', async () => {
  const ctx = store();
  await pullImage(ctx, pullOpts(reg.host, 'a'));
  const before = files(ctx.layout);
  for (const [tag, why] of [['dotdot', /"\.\.\/evil"/], ['absolute', /"\/etc\/evil"/], ['symlink', /"a\/passwd" goes through the symlink/]] as const) {
    await assert.rejects(pullImage(ctx, pullOpts(reg.host, tag)), (err: CocoonError) => err.exitCode === ExitCode.InvalidData && why.test(err.message));
    assert.deepEqual(files(ctx.layout), before, tag);
  }
  assert.equal(existsSync('/etc/evil'), false, 'nothing escaped the layer');
});

test('a manifest whose layer size is wrong (+1000, 10^15, 20 GiB) fails before downloading it, nothing left', async () => {
  const got = await fetch(`http://${reg.host}/v2/faults/img/manifests/a`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  const manifest = JSON.parse(await got.text()) as { layers: Array<{ size: number }> };
  const real = (manifest.layers[2] as { size: number }).size;
  const cases: Array<[string, number, RegExp]> = [
    ['plus1000', real + 1000, new RegExp(`declares ${real + 1000} bytes but the registry sends ${real}`)],
    ['absurd', 1e15, /only .* free/],
    ['huge', 20 * 2 ** 30, /declares 21474836480 bytes|only .* free/],
  ];
  for (const [tag, size, why] of cases) {
    (manifest.layers[2] as { size: number }).size = size;
    const put = await fetch(`http://${reg.host}/v2/faults/img/manifests/${tag}`, {
      method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: JSON.stringify(manifest),
    });
    assert.equal(put.status, 201, await put.text());
    const ctx = store();
    const started = Date.now();
    await assert.rejects(pullImage(ctx, pullOpts(reg.host, tag)), (err: CocoonError) => err.exitCode >= 9 && why.test(err.message));
    assert.ok(Date.now() - started < 5000, tag);
    assert.deepEqual(files(ctx.layout), [], tag);
  }
});

test('404 / 401 / 500 on a layer after others were fetched: nothing left', async () => {
  const img = images.get('a') as BuiltImage;
  const last = `/v2/faults/img/blobs/${img.layerDigests[2]}`;
  for (const status of [404, 401, 500]) {
    const proxy = await startFaultProxy(reg.host, (path) => (path === last ? { status } : 'pass'));
    const ctx = store();
    try {
      // One download at a time, in manifest order: the failing layer comes after two good ones.
      await assert.rejects(pullImage(ctx, pullOpts(proxy.host, 'a', { concurrency: 1 })), (err: CocoonError) => err.exitCode >= 2 && new RegExp(String(status === 401 ? 'authentication required' : status)).test(err.message));
      assert.equal(proxy.hits.get(`/v2/faults/img/blobs/${img.layerDigests[0]}`), 1, 'earlier layers were fetched');
      assert.deepEqual(files(ctx.layout), [], `status ${status}`);
    } finally {
      await proxy.stop();
    }
  }
});

test('the image index lock is not held while layers download', async () => {
  const ctx = store();
  const events: ProgressEvent[] = [];
  const sink = new Writable({ write: (c: Buffer, _e, cb) => void (events.push(ProgressEventSchema.parse(JSON.parse(c.toString()))), cb()) });
  const lock = await acquireLock(ctx.layout.images.lock);
  let settled = false;
  const pull = pullImage(ctx, pullOpts(reg.host, 'b', { progress: createProgress('json', sink) })).finally(() => (settled = true));
  try {
    // Every download (and conversion) finishes while this test holds the lock; only the record waits.
    for (let i = 0; events.filter((e) => e.phase === 'convert' && e.state === 'done').length < 3; i++) {
      assert.ok(i < 400, `downloads stalled behind the lock: ${JSON.stringify(events.map((e) => `${e.phase}:${e.state}`))}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    assert.equal(events.filter((e) => e.phase === 'download' && e.state === 'done').length, 3);
    assert.equal(settled, false, 'the record waits for the lock');
  } finally {
    lock.release();
  }
  const r = await pull;
  assert.equal(r.record.name, `${reg.host}/faults/img:b`);
});

test('layers extracted while they stream: a corrupt blob is a digest mismatch, a truncated one is restarted once; nothing left', async () => {
  const img = images.get('a') as BuiltImage;
  const path = `/v2/faults/img/blobs/${img.layerDigests[2]}`;
  for (const [fault, why, hits] of [['corrupt', /digest mismatch/, 1], ['truncate', /broke off after \d+ of \d+ bytes/, 2]] as const) {
    const proxy = await startFaultProxy(reg.host, (p) => (p === path ? fault : 'pass'));
    const ctx = store();
    try {
      await assert.rejects(pullImage(ctx, pullOpts(proxy.host, 'a')), (err: CocoonError) => err.exitCode >= 2 && why.test(err.message));
      assert.equal(proxy.hits.get(path), hits, fault);
      assert.deepEqual(files(ctx.layout), [], fault);
    } finally {
      await proxy.stop();
    }
  }
});

test('a registry (or proxy) that ends every body by closing the connection: the pull works', async () => {
  const proxy = await startFaultProxy(reg.host, () => 'close');
  const ctx = store();
  try {
    const r = await pullImage(ctx, pullOpts(proxy.host, 'a'));
    assert.equal(r.record.layers.length, 3);
    assert.ok([...proxy.hits.keys()].some((p) => p.includes('/blobs/')), 'the blobs came through the closing proxy');
    assert.deepEqual(readdirSync(ctx.layout.tmp), []);
  } finally {
    await proxy.stop();
  }
});
