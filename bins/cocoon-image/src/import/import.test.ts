import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { resolveConfig } from '@cocoon/common/config';
import { CocoonError, ExitCode } from '@cocoon/common/errors';
import { run, spawn } from '@cocoon/common/exec';
import { imageIndex, layerDiskPath } from '@cocoon/common/images/store';
import { resolveImage } from '@cocoon/common/images/resolve';
import { layoutOf } from '@cocoon/common/layout';
import { baseLayer, dockerSave, kernelLayer, makeTar, ociLayout, sha, snapshot, tarClaiming, type Entry } from '../../test/import-fixtures.ts';
import { createProgress, NO_PROGRESS } from '../progress/index.ts';
import { importImage } from './index.ts';

const root = mkdtempSync(join(tmpdir(), 'cocoon-import-'));
const config = resolveConfig({ root_dir: root, log_dir: join(root, 'log') });
const layout = layoutOf(config);
const ctx = { config, layout };
const quiet = { progress: NO_PROGRESS };
/** A progress sink whose NDJSON lines land in `lines`. */
const recorder = (lines: string[]) => createProgress('json', new Writable({ write: (c: Buffer, _e, cb) => void (lines.push(c.toString()), cb()) }));
const inputs = mkdtempSync(join(tmpdir(), 'cocoon-import-in-'));
let n = 0;
const file = (data: Buffer): string => {
  const p = join(inputs, `in-${n++}`);
  writeFileSync(p, data);
  return p;
};

/** Mounts an EROFS disk read-only (the host kernel has erofs + loop) and runs `fn` on it. */
async function withMount<T>(disk: string, fn: (dir: string) => T): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'cocoon-mnt-'));
  await run('mount', ['-t', 'erofs', '-o', 'loop,ro', disk, dir]);
  try {
    return await fn(dir);
  } finally {
    await run('umount', [dir]);
    rmSync(dir, { recursive: true });
  }
}

async function expectFailure(p: Promise<unknown>, code: number, text: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof CocoonError, `expected a CocoonError, got ${String(err)}`);
    assert.equal(err.exitCode, code, err.message);
    assert.match(err.message, text);
    return true;
  });
}

after(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(inputs, { recursive: true, force: true });
});

describe('importImage', () => {
  let base: Buffer;
  let top: Buffer;
  before(async () => {
    base = await makeTar(baseLayer());
    top = await makeTar([...kernelLayer(), { name: 'var/.wh.gone' }, { name: 'var/old/.wh..wh..opq' }, { name: 'var/old/new', data: 'new' }]);
  });

  it('imports a gzip-wrapped OCI layout with gzip and plain layers', async () => {
    const tarball = gzipSync(await ociLayout([{ tar: base, gzip: true }, { tar: top }]));
    const rec = await importImage(ctx, { name: 'oci:1', sources: [file(tarball)], ...quiet });
    assert.equal(rec.layers.length, 2);
    assert.equal(rec.layers[0]?.diff_id, sha(base));
    assert.equal(rec.layers[0]?.media_type, 'application/vnd.oci.image.layer.v1.tar+gzip');
    assert.equal(rec.platform, 'linux/amd64');
    assert.deepEqual(rec.config, { env: ['PATH=/bin'], entrypoint: null, cmd: ['/bin/sh'] });
    const res = await resolveImage(layout, 'oci:1');
    assert.deepEqual(res.disks.map((d) => [d.serial, d.read_only, d.format]), [['cocoon-layer0', true, 'raw'], ['cocoon-layer1', true, 'raw']]);
    assert.equal(readFileSync(res.kernel ?? '', 'utf8'), 'kernel A');
    assert.equal(readFileSync(res.initrd ?? '', 'utf8'), 'initrd A');
    assert.deepEqual(res.cmdline, ['boot=cocoon-overlay']);
    for (const d of res.disks) await run('fsck.erofs', [d.path]);
  });

  it('keeps owners, modes, mtimes, links and devices, and writes overlay whiteouts', async () => {
    const res = await resolveImage(layout, 'oci:1');
    await withMount(res.disks[0]!.path, (dir) => {
      const shadow = lstatSync(join(dir, 'etc/shadow'));
      assert.deepEqual([shadow.uid, shadow.gid, shadow.mode & 0o7777, shadow.nlink], [42, 43, 0o640, 2]);
      assert.equal(shadow.mtime.toISOString(), '2019-01-01T00:00:00.000Z');
      assert.equal(lstatSync(join(dir, 'etc/shadow-hard')).ino, shadow.ino);
      assert.equal(lstatSync(join(dir, 'bin/su')).mode & 0o7777, 0o4755);
      assert.equal(readlinkSync(join(dir, 'sbin')), 'bin');
      assert.ok(lstatSync(join(dir, 'dev/null')).isCharacterDevice());
      assert.equal(lstatSync(join(dir, 'etc')).mtime.toISOString(), '2020-02-02T02:02:02.000Z');
      assert.equal(statSync(dir).mode & 0o7777, 0o755);
    });
    await withMount(res.disks[1]!.path, (dir) => {
      const wh = lstatSync(join(dir, 'var/gone'));
      assert.ok(wh.isCharacterDevice());
      assert.equal(wh.rdev, 0);
    });
    // The real proof: overlayfs over both disks hides the whited-out file and the opaque dir's old content.
    await withMount(res.disks[0]!.path, (lower0) =>
      withMount(res.disks[1]!.path, async (lower1) => {
        const merged = mkdtempSync(join(tmpdir(), 'cocoon-ovl-'));
        await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower1}:${lower0}`, merged]);
        try {
          assert.equal(lstatSync(join(merged, 'var/gone'), { throwIfNoEntry: false }), undefined);
          assert.deepEqual(readdirSync(join(merged, 'var/old')), ['new']);
          assert.equal(readFileSync(join(merged, 'etc/shadow'), 'utf8'), 'secret');
        } finally {
          await run('umount', [merged]);
          rmSync(merged, { recursive: true });
        }
      }),
    );
  });

  it('imports docker save from stdin and reuses layers already in the store', async () => {
    const stdin = new PassThrough();
    stdin.end(await dockerSave([base, top]));
    const lines: string[] = [];
    const rec = await importImage(ctx, { name: 'docker', sources: ['-'], stdin, progress: recorder(lines) });
    assert.equal(rec.layers[1]?.digest, sha(top));
    // The top layer is the same plain tar as in the OCI image: same digest, not converted again.
    assert.ok(lines.some((l) => l.includes('"state":"cached"')), lines.join('\n'));
    assert.equal(rec.source, '-');
  });

  it('imports a zstd-compressed layer (decoded by the zstd tool)', async () => {
    const layerTar = await makeTar([...kernelLayer('Z'), { name: 'zst', data: 'z' }]);
    const zst = Buffer.from((await spawn('zstd', ['-cq'], { input: layerTar, encoding: 'buffer' })).stdout as Uint8Array);
    const rec = await importImage(ctx, { name: 'zstd', sources: [file(await ociLayout([{ tar: layerTar, blob: zst }]))], ...quiet });
    assert.equal(rec.layers[0]?.diff_id, sha(layerTar));
    assert.equal(readFileSync((await resolveImage(layout, 'zstd')).kernel ?? '', 'utf8'), 'kernel Z');
  });

  it('concatenates split files in order', async () => {
    const whole = await ociLayout([{ tar: await makeTar([...kernelLayer('S'), { name: 'split', data: 'x'.repeat(5000) }]), gzip: true }]);
    const cut = [0, 1000, 3000, whole.length];
    const parts = cut.slice(1).map((end, i) => file(whole.subarray(cut[i], end)));
    const rec = await importImage(ctx, { name: 'split', sources: parts, ...quiet });
    assert.equal(readFileSync((await resolveImage(layout, rec.id)).kernel ?? '', 'utf8'), 'kernel S');
  });

  it('dedups: a second image sharing every layer converts nothing', async () => {
    const disk = layerDiskPath(layout, sha(top));
    const before = statSync(disk).mtimeMs;
    const lines: string[] = [];
    await importImage(ctx, { name: 'oci:2', sources: [file(await ociLayout([{ tar: base, gzip: true }, { tar: top }]))], progress: recorder(lines) });
    assert.equal(lines.filter((l) => l.includes('"state":"cached"')).length, 2);
    assert.equal(statSync(disk).mtimeMs, before);
  });
});

describe('importImage: bad input leaves the store unchanged', () => {
  const layer = (extra: Entry[]) => makeTar([...kernelLayer('B'), ...extra]);
  const cases: Array<[string, () => Promise<string[]>, number, RegExp]> = [
    ['not a tarball', async () => [file(Buffer.from('hello, this is not an image at all'.repeat(40)))], ExitCode.InvalidData, /is a text file, not an image/],
    ['zero-byte file', async () => [file(Buffer.alloc(0))], ExitCode.InvalidData, /is empty/],
    ['a tar that is not an image', async () => [file(await makeTar([{ name: 'readme', data: 'hi' }]))], ExitCode.InvalidData, /is not an image/],
    ['"../" entry', async () => [file(await ociLayout([{ tar: await layer([{ name: '../evil', data: 'x' }]) }]))], ExitCode.InvalidData, /"\.\.\/evil"/],
    ['absolute path', async () => [file(await ociLayout([{ tar: await layer([{ name: '/etc/evil', data: 'x' }]) }]))], ExitCode.InvalidData, /"\/etc\/evil"/],
    ['symlink escape', async () => [file(await ociLayout([{ tar: await layer([{ name: 'a', type: 'symlink', linkname: '/etc' }, { name: 'a/passwd', data: 'x' }]) }]))], ExitCode.InvalidData, /"a\/passwd" goes through the symlink/],
    ['hardlink escape', async () => [file(await ociLayout([{ tar: await layer([{ name: 'h', type: 'link', linkname: '../../etc/passwd' }]) }]))], ExitCode.InvalidData, /hardlink/],
    ['missing kernel', async () => [file(await ociLayout([{ tar: await makeTar([{ name: 'etc/hostname', data: 'x' }]) }]))], ExitCode.InvalidData, /no kernel/],
    ['digest mismatch', async () => [file(await ociLayout([{ tar: await layer([]) }], { wrongDigest: true }))], ExitCode.InvalidData, /does not match its digest/],
    ['layer size off by +1000', async () => [file(await ociLayout([{ tar: await layer([]) }], { layerSize: (n) => n + 1000 }))], ExitCode.InvalidData, /bytes, but its descriptor says/],
    ['layer size 10^15', async () => [file(await ociLayout([{ tar: await layer([]) }], { layerSize: () => 1e15 }))], ExitCode.InvalidData, /bytes, but its descriptor says 1000000000000000/],
    ['a tar entry claiming 10^15 bytes', async () => [file(await tarClaiming('blobs/sha256/big', 10n ** 15n))], ExitCode.InvalidData, /claims 909\.5T, more than the .* free/],
    ['diff_id mismatch', async () => [file(await ociLayout([{ tar: await layer([]), gzip: true }], { configOverride: { rootfs: { type: 'layers', diff_ids: [sha('other')] } } }))], ExitCode.InvalidData, /diff_id/],
    ['corrupt gzip layer', async () => [file(await ociLayout([{ tar: await layer([]), blob: gzipSync(await layer([])).subarray(0, 60) }]))], ExitCode.InvalidData, /layer sha256:/],
    ['truncated gzip wrapper', async () => [file(gzipSync(await ociLayout([{ tar: await layer([]) }])).subarray(0, 300))], ExitCode.InvalidData, /broken|not an image/],
    ['missing file', async () => [join(root, 'nope.tar')], ExitCode.NotFound, /no such file/],
  ];
  for (const [what, make, code, text] of cases) {
    it(what, async () => {
      const sources = await make();
      mkdirSync(layout.tmp, { recursive: true });
      const before = snapshot(root);
      await expectFailure(importImage(ctx, { name: `bad-${n}`, sources, ...quiet }), code, text);
      assert.deepEqual(snapshot(root), before);
    });
  }

  it('an existing name is a conflict; bad names are usage errors', async () => {
    const sources = [file(await ociLayout([{ tar: await makeTar(kernelLayer('C')) }]))];
    await importImage(ctx, { name: 'taken', sources, ...quiet });
    const before = snapshot(root);
    await expectFailure(importImage(ctx, { name: 'taken', sources, ...quiet }), ExitCode.Conflict, /already exists/);
    for (const bad of ['has space', 'a/../b', 'tab\there', '']) {
      await expectFailure(importImage(ctx, { name: bad, sources, ...quiet }), ExitCode.Usage, /invalid/);
    }
    assert.deepEqual(snapshot(root), before);
  });
});

describe('importImage: concurrency and --force', () => {
  it('two imports of one name at once: one wins, one conflicts, no orphan disk', async () => {
    const tarball = file(await ociLayout([{ tar: await makeTar([...kernelLayer('R'), { name: 'race', data: 'r' }]), gzip: true }]));
    const results = await Promise.allSettled([0, 1].map(() => importImage(ctx, { name: 'race', sources: [tarball], ...quiet })));
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.equal((lost.reason as CocoonError).exitCode, ExitCode.Conflict);
    const won = (results.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{ layers: { digest: string }[] }>).value;
    assert.ok(statSync(layerDiskPath(layout, won.layers[0]!.digest)).isFile());
    assert.deepEqual(snapshot(layout.tmp), []);
  });

  it('--force replaces the record and drops disks only the old one used', async () => {
    const oldTar = await makeTar([...kernelLayer('old'), { name: 'only-old', data: 'o' }]);
    await importImage(ctx, { name: 'forced', sources: [file(await ociLayout([{ tar: oldTar }]))], ...quiet });
    const oldDisk = layerDiskPath(layout, sha(oldTar));
    assert.ok(statSync(oldDisk).isFile());
    const rec = await importImage(ctx, { name: 'forced', sources: [file(await ociLayout([{ tar: await makeTar(kernelLayer('new')) }]))], force: true, ...quiet });
    assert.equal(statSync(oldDisk, { throwIfNoEntry: false }), undefined);
    assert.deepEqual((await imageIndex(layout).list()).filter((r) => r.name === 'forced').map((r) => r.id), [rec.id]);
  });
});
