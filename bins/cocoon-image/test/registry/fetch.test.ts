/** Registry pulls against a real docker-registry: auth variants, platforms, faults, the cache. */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { layoutOf, type Layout } from '@cocoon/common/layout';
import { layerDiskPath } from '@cocoon/common/images/store';
import { startFaultProxy, startRegistry, pushOciLayout, TEST_USER, type TestRegistry } from '../../../../test/helpers/registry.ts';
import { discardBlobs, fetchImage, type FetchOptions } from '../../src/registry/fetch.ts';
import { buildImage, buildIndex, guestLayers, type BuiltImage } from './fixtures.ts';

const work = mkdtempSync(join(tmpdir(), 'cocoon-fetch-'));
const freshLayout = (): Layout => {
  const root = mkdtempSync(join(work, 'root-'));
  return layoutOf({ root_dir: root, run_dir: join(root, 'run'), log_dir: join(root, 'log') });
};
const sha = (p: string) => `sha256:${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
const opts = (reference: string, more: Partial<FetchOptions> = {}): FetchOptions => ({ reference, env: {}, ...more });
const tmpEmpty = (l: Layout) => assert.deepEqual(readdirSync(l.tmp), [], 'no temp file left');

let image: BuiltImage;
let multiDir: string;
let imageDir: string;

before(async () => {
  imageDir = join(work, 'img');
  image = await buildImage(imageDir, 'v1', guestLayers('a'));
  multiDir = join(work, 'multi');
  await buildIndex(multiDir, 'v1', [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' }], guestLayers('m'));
});

after(() => rmSync(work, { recursive: true, force: true }));

describe('anonymous registry', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry();
    await pushOciLayout(imageDir, 'v1', `${reg.host}/test/guest:v1`);
    await pushOciLayout(multiDir, 'v1', `${reg.host}/test/multi:v1`, { all: true });
    const armOnly = join(work, 'arm');
    await buildIndex(armOnly, 'v1', [{ os: 'linux', architecture: 'arm64' }], guestLayers('r'));
    await pushOciLayout(armOnly, 'v1', `${reg.host}/test/arm:v1`, { all: true });
  });
  after(() => reg.stop());

  test('pulls a tag: verified blobs in layout.tmp, diff_ids from the config', async () => {
    const layout = freshLayout();
    const got = await fetchImage(layout, opts(`${reg.host}/test/guest:v1`));
    assert.equal(got.name, `${reg.host}/test/guest:v1`);
    assert.equal(got.platform, 'linux/amd64');
    assert.deepEqual(got.layers.map((l) => l.descriptor.digest), image.layerDigests);
    for (const l of got.layers) {
      assert.ok(l.blobPath?.startsWith(layout.tmp));
      assert.equal(sha(l.blobPath ?? ""), l.descriptor.digest);
      assert.match(l.diffId ?? '', /^sha256:/);
    }
    assert.equal(got.downloadedBytes, image.layerSizes.reduce((a, b) => a + b));
    await discardBlobs(got.layers.map((l) => l.blobPath));
    tmpEmpty(layout);
  });

  test('pulls by digest pin; a wrong pin is refused', async () => {
    const layout = freshLayout();
    const pinned = await fetchImage(layout, opts(`${reg.host}/test/guest@${image.manifestDigest}`));
    assert.equal(pinned.manifestDigest, image.manifestDigest);
    await discardBlobs(pinned.layers.map((l) => l.blobPath));
    await assert.rejects(fetchImage(layout, opts(`${reg.host}/test/guest@sha256:${'0'.repeat(64)}`)), { exitCode: 3 });
  });

  test('an index selects linux/amd64 by default and --platform otherwise', async () => {
    const layout = freshLayout();
    const amd = await fetchImage(layout, opts(`${reg.host}/test/multi:v1`));
    const arm = await fetchImage(layout, opts(`${reg.host}/test/multi:v1`, { platform: 'linux/arm64' }));
    assert.equal(arm.platform, 'linux/arm64');
    assert.notEqual(amd.manifestDigest, arm.manifestDigest);
    await discardBlobs([...amd.layers, ...arm.layers].map((l) => l.blobPath));
    await assert.rejects(fetchImage(layout, opts(`${reg.host}/test/arm:v1`)), (err: Error & { exitCode: number }) => {
      assert.equal(err.exitCode, 3);
      assert.match(err.message, /no manifest for linux\/amd64 \(it has: linux\/arm64\)/);
      return true;
    });
    await assert.rejects(fetchImage(layout, opts(`${reg.host}/test/multi:v1`, { platform: 'amd64' })), { exitCode: 2 });
    tmpEmpty(layout);
  });

  test('layers whose disk is in the store are not downloaded; --force downloads them', async () => {
    const layout = freshLayout();
    const disk = layerDiskPath(layout, image.layerDigests[0] as string);
    mkdirSync(dirname(disk), { recursive: true });
    writeFileSync(disk, 'converted');
    const got = await fetchImage(layout, opts(`${reg.host}/test/guest:v1`));
    assert.equal(got.layers[0]?.blobPath, null);
    assert.equal(got.downloadedBytes, image.layerSizes[1]);
    const forced = await fetchImage(layout, opts(`${reg.host}/test/guest:v1`, { force: true }));
    assert.ok(forced.layers.every((l) => l.blobPath));
    await discardBlobs([...got.layers, ...forced.layers].map((l) => l.blobPath));
  });

  test('a missing repository or tag is not found (exit 3)', async () => {
    await assert.rejects(fetchImage(freshLayout(), opts(`${reg.host}/test/nope:v1`)), { exitCode: 3 });
    await assert.rejects(fetchImage(freshLayout(), opts(`${reg.host}/test/guest:v9`)), { exitCode: 3 });
  });

  describe('faults injected by a proxy', () => {
    const blobPath = () => `/v2/test/guest/blobs/${image.layerDigests[1]}`;
    const through = async (fault: Parameters<typeof startFaultProxy>[1]) => {
      const proxy = await startFaultProxy(reg.host, fault);
      const layout = freshLayout();
      try {
        const err = await fetchImage(layout, opts(`${proxy.host}/test/guest:v1`)).then(
          () => assert.fail('pull should fail'),
          (e: Error & { exitCode: number }) => e,
        );
        tmpEmpty(layout);
        return { err, hits: proxy.hits.get(blobPath()) ?? 0 };
      } finally {
        await proxy.stop();
      }
    };

    test('wrong digest served → exit 9, no blob left', async () => {
      const { err } = await through((p) => (p === blobPath() ? 'corrupt' : 'pass'));
      assert.equal(err.exitCode, 9);
      assert.match(err.message, /digest mismatch/);
    });

    test('truncated blob → restarted once, then a clear error', async () => {
      const { err, hits } = await through((p) => (p === blobPath() ? 'truncate' : 'pass'));
      assert.equal(hits, 2);
      assert.match(err.message, /broke off after \d+ of \d+ bytes/);
      assert.ok(err.exitCode >= 2);
    });

    test('500 / 401 / 404 on a blob → exit ≥ 2 naming the status', async () => {
      for (const [status, code] of [[500, 10], [401, 10], [404, 3]] as const) {
        const { err } = await through((p) => (p === blobPath() ? { status } : 'pass'));
        assert.equal(err.exitCode, code, `status ${status}: ${err.message}`);
      }
    });
  });
});

describe('basic auth (htpasswd)', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry({ auth: 'basic' });
    await pushOciLayout(imageDir, 'v1', `${reg.host}/test/guest:v1`, { creds: TEST_USER });
  });
  after(() => reg.stop());

  test('no credentials → refused; env, flags and DOCKER_CONFIG work; wrong password refused', async () => {
    const ref = `${reg.host}/test/guest:v1`;
    await assert.rejects(fetchImage(freshLayout(), opts(ref)), /authentication required/);
    const env = { COCOON_REGISTRY_USERNAME: TEST_USER.username, COCOON_REGISTRY_PASSWORD: TEST_USER.password };
    const a = await fetchImage(freshLayout(), opts(ref, { env }));
    const b = await fetchImage(freshLayout(), opts(ref, { ...TEST_USER }));
    const dockerDir = mkdtempSync(join(work, 'docker-'));
    const auth = Buffer.from(`${TEST_USER.username}:${TEST_USER.password}`).toString('base64');
    writeFileSync(join(dockerDir, 'config.json'), JSON.stringify({ auths: { [reg.host]: { auth } } }));
    const c = await fetchImage(freshLayout(), opts(ref, { env: { DOCKER_CONFIG: dockerDir } }));
    assert.equal(a.manifestDigest, image.manifestDigest);
    assert.equal(b.manifestDigest, c.manifestDigest);
    await discardBlobs([...a.layers, ...b.layers, ...c.layers].map((l) => l.blobPath));
    await assert.rejects(fetchImage(freshLayout(), opts(ref, { username: TEST_USER.username, password: 'wrong' })), /access denied \(401/);
  });
});

describe('bearer tokens', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startRegistry({ auth: 'token', anonymousPull: true });
    await pushOciLayout(imageDir, 'v1', `${reg.host}/test/guest:v1`, { creds: TEST_USER });
  });
  after(() => reg.stop());

  test('anonymous and authenticated pulls go through the challenge flow', async () => {
    const ref = `${reg.host}/test/guest:v1`;
    const anon = await fetchImage(freshLayout(), opts(ref));
    const auth = await fetchImage(freshLayout(), opts(ref, { ...TEST_USER }));
    assert.equal(anon.manifestDigest, image.manifestDigest);
    assert.equal(auth.manifestDigest, image.manifestDigest);
    await discardBlobs([...anon.layers, ...auth.layers].map((l) => l.blobPath));
    await assert.rejects(fetchImage(freshLayout(), opts(ref, { username: TEST_USER.username, password: 'wrong' })), /token server .* refused user tester \(401/);
  });
});
