import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { runInProcess } from '@cocoon/common/testing/cli';
import { run } from '@cocoon/common/exec';
import { ImageRecordSchema } from '@cocoon/common/schemas/image';
import { z } from 'zod';
import { cli } from '../src/cli.ts';

// Real parts: apt-get download of the kernel (once, into the temp root's cache), dpkg-deb,
// the host busybox-static, cpio(1) and tar(1) to read what was written.
const root = mkdtempSync(join(tmpdir(), 'cocoon-build-default-'));
after(() => rmSync(root, { recursive: true, force: true }));

async function image(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { COCOON_ROOT_DIR: join(root, 'store'), COCOON_RUN_DIR: join(root, 'run'), COCOON_LOG_DIR: join(root, 'log'), PATH: process.env.PATH ?? '' };
  return runInProcess(cli, 'cocoon-image', argv, env);
}

async function list(args: string[]): Promise<string> {
  return (await run('tar', args)).stdout;
}

const OutputSchema = z.object({ tarball: z.string(), kernel: z.string(), digest: z.string(), modules: z.array(z.string()) });

describe('cocoon-image build-default', () => {
  it('writes an OCI layout with a busybox root layer and a kernel layer', async () => {
    const file = join(root, 'default.oci.tar');
    const res = await image(['build-default', '--output', file]);
    assert.equal(res.code, 0, res.stderr);
    const out = OutputSchema.parse(JSON.parse(res.stdout));
    assert.ok(out.modules.includes('kernel/drivers/block/virtio_blk.ko') && out.modules.includes('kernel/fs/erofs/erofs.ko'));
    const names = (await list(['-tf', file])).split('\n').filter(Boolean);
    assert.ok(names.includes('oci-layout') && names.includes('index.json'));
    assert.equal(names.filter((n) => n.startsWith('blobs/sha256/') && n.length > 20).length, 5, 'config, manifest, three layers');

    const dir = join(root, 'oci');
    await run('mkdir', ['-p', dir]);
    await run('tar', ['-xf', file, '-C', dir]);
    const blob = (digest: string) => join(dir, 'blobs/sha256', digest.replace('sha256:', ''));
    const manifest = JSON.parse(readFileSync(blob(out.digest), 'utf8')) as { layers: { digest: string }[] };
    assert.equal(manifest.layers.length, 3, 'root filesystem, kernel, agent');
    const [base, boot] = await Promise.all(manifest.layers.map((l) => list(['-tvzf', blob(l.digest), '--numeric-owner'])));
    for (const path of ['bin/busybox', 'sbin/init -> /bin/busybox', 'etc/inittab', 'etc/init.d/rcS', 'etc/init.d/S50agent', 'etc/acpi/PWRF/00000080']) {
      assert.match(base ?? '', new RegExp(` 0/0 .* ${path}$`, 'm'), path);
    }
    assert.match(boot ?? '', new RegExp(`boot/vmlinuz-${out.kernel}$`, 'm'));
    assert.match(boot ?? '', new RegExp(`lib/modules/${out.kernel}/modules.dep$`, 'm'));

    const initrdDir = join(root, 'boot');
    await run('mkdir', ['-p', initrdDir]);
    await run('tar', ['-xzf', blob(manifest.layers[1]?.digest ?? ''), '-C', initrdDir, `boot/initrd.img-${out.kernel}`]);
    const cpio = gunzipSync(readFileSync(join(initrdDir, 'boot', `initrd.img-${out.kernel}`)));
    const { stdout: entries } = await run('cpio', ['-itv'], { input: cpio });
    assert.match(entries, /^-rwxr-xr-x .* init$/m);
    assert.match(entries, /^crw------- .* dev\/console$/m);
    assert.match(entries, new RegExp(`lib/modules/${out.kernel}/modules.cocoon-order$`, 'm'));
    assert.match(entries, /kernel\/drivers\/virtio\/virtio_mmio\.ko$/m);
  });

  it('imports "default", then does nothing on a second run, and rebuilds with --force', async () => {
    const first = await image(['build-default']);
    assert.equal(first.code, 0, first.stderr);
    const record = ImageRecordSchema.parse(JSON.parse(first.stdout));
    assert.equal(record.name, 'default');
    assert.equal(record.layers.length, 3);
    assert.ok(record.boot?.kernel.startsWith('vmlinuz-'));
    const again = await image(['build-default']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(ImageRecordSchema.parse(JSON.parse(again.stdout)).id, record.id, 'idempotent');
    const forced = await image(['build-default', '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    const rebuilt = ImageRecordSchema.parse(JSON.parse(forced.stdout));
    assert.notEqual(rebuilt.id, record.id);
    assert.equal(rebuilt.digest, record.digest, 'the build is reproducible');
    assert.deepEqual(readdirSync(join(root, 'store', 'cache')).filter((f) => f.endsWith('.deb')).length, 1, 'the kernel is downloaded once');
    assert.deepEqual(readdirSync(join(root, 'store', 'tmp')), [], 'no build leftovers');
  });

  it('rebuilds when the existing default carries another agent than this cocoon\'s', async () => {
    const current = ImageRecordSchema.parse(JSON.parse((await image(['build-default'])).stdout));
    assert.match(current.source, /^build-default \(.+, agent [0-9a-f]{12}\)$/);
    // An image built by an older cocoon: same name, an agent digest that is not this one's.
    const index = join(root, 'store', 'images', 'index.json');
    const doc = JSON.parse(readFileSync(index, 'utf8')) as { items: Record<string, { source: string }> };
    (doc.items[current.id] as { source: string }).source = current.source.replace(/agent [0-9a-f]{12}/, 'agent 000000000000');
    writeFileSync(index, JSON.stringify(doc));
    const again = await image(['build-default']);
    assert.equal(again.code, 0, again.stderr);
    const rebuilt = ImageRecordSchema.parse(JSON.parse(again.stdout));
    assert.notEqual(rebuilt.id, current.id, 'rebuilt');
    assert.equal(rebuilt.source, current.source);
  });

  it('fails clearly on a kernel package that is not there, leaving nothing behind', async () => {
    const res = await image(['build-default', '--force', '--kernel-deb', join(root, 'missing.deb')]);
    assert.ok(res.code >= 2, res.stderr);
    assert.match(res.stderr, /^cocoon-image: .*missing\.deb/m);
    assert.deepEqual(readdirSync(join(root, 'store', 'tmp')), []);
  });
});
