/** `cocoon-image pull` end to end: real registry → EROFS disks + boot files → a record; layer dedup. */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runInProcess } from '@cocoon/common/testing/cli';
import { ImageRecordSchema } from '@cocoon/common/schemas/image';
import { z } from 'zod';
import { pushOciLayout, startRegistry, type TestRegistry } from '../../../../test/helpers/registry.ts';
import { cli } from '../../src/cli.ts';
import { buildImage, guestLayers, type BuiltImage } from './fixtures.ts';

const work = mkdtempSync(join(tmpdir(), 'cocoon-pull-'));
const PullOutput = z.array(ImageRecordSchema.extend({ downloaded_bytes: z.number().nullable() }));
let reg: TestRegistry;
let first: BuiltImage;
let second: BuiltImage;

async function cocoonImage(root: string, ...argv: string[]) {
  const r = await runInProcess(cli, 'cocoon-image', argv, { COCOON_ROOT_DIR: root, COCOON_LOG_DIR: join(root, 'log') });
  return { code: r.code, out: r.stdout, stderr: r.stderr };
}

before(async () => {
  reg = await startRegistry();
  first = await buildImage(join(work, 'a'), 'v1', guestLayers('a'));
  // Same bottom layer (kernel), a different top layer.
  second = await buildImage(join(work, 'b'), 'v1', [guestLayers('a')[0] ?? {}, { 'srv/b.txt': 'b' }]);
  await pushOciLayout(join(work, 'a'), 'v1', `${reg.host}/cocoon/guest:a`);
  await pushOciLayout(join(work, 'b'), 'v1', `${reg.host}/cocoon/guest:b`);
});
after(async () => {
  await reg.stop();
  rmSync(work, { recursive: true, force: true });
});

test('pull makes a bootable record; a second image downloads only its new layer', async () => {
  const root = mkdtempSync(join(work, 'root-'));
  const a = await cocoonImage(root, 'pull', '--format', 'json', `${reg.host}/cocoon/guest:a`);
  assert.equal(a.code, 0, a.stderr);
  const [recA] = PullOutput.parse(JSON.parse(a.out));
  assert.equal(recA?.name, `${reg.host}/cocoon/guest:a`);
  assert.equal(recA?.digest, first.manifestDigest);
  assert.equal(recA?.boot?.kernel, 'vmlinuz-6.1.0-test');
  assert.equal(recA?.boot?.layer, first.layerDigests[0]);
  for (const d of first.layerDigests) assert.ok(existsSync(join(root, 'images', 'blobs', 'sha256', `${d.slice(7)}.erofs`)));
  const b = await cocoonImage(root, 'pull', '--format', 'json', `${reg.host}/cocoon/guest:b`);
  assert.equal(b.code, 0, b.stderr);
  const [recB] = PullOutput.parse(JSON.parse(b.out));
  assert.equal(recB?.downloaded_bytes, second.layerSizes[1], 'only the layer the store lacks');
  assert.equal(recB?.boot?.layer, first.layerDigests[0]);
  const again = PullOutput.parse(JSON.parse((await cocoonImage(root, 'pull', '--format', 'json', `${reg.host}/cocoon/guest:a`)).out));
  assert.equal(again[0]?.downloaded_bytes, 0);
  assert.deepEqual(readdirSync(join(root, 'tmp')), []);
});

test('a failed pull leaves the store unchanged', async () => {
  const root = mkdtempSync(join(work, 'root-'));
  const r = await cocoonImage(root, 'pull', `${reg.host}/cocoon/guest:missing`);
  assert.equal(r.code, 3, r.stderr);
  assert.equal(existsSync(join(root, 'images', 'index.json')), false);
  assert.deepEqual(existsSync(join(root, 'tmp')) ? readdirSync(join(root, 'tmp')) : [], []);
});
