import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { run } from '@cocoon/common/exec';
import { writeCpio } from './cpio.ts';
import { buildOciLayout, MEDIA_LAYER_GZIP, MEDIA_MANIFEST } from './oci-layout.ts';
import { writeTar } from './tar.ts';
import { Tree } from './tree.ts';

const dir = mkdtempSync(join(tmpdir(), 'cocoon-guest-archive-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function sample(): Tree {
  const long = `lib/modules/6.1.0-56-cloud-amd64/kernel/net/vmw_vsock/${'x'.repeat(60)}/vmw_vsock_virtio_transport_common.ko`;
  return new Tree()
    .file('init', '#!/bin/sh\necho hi\n', 0o755)
    .file('etc/shadow', 'root:*:1:0:99999:7:::\n', 0o600)
    .symlink('bin/sh', '/bin/busybox')
    .char('dev/console', 5, 1)
    .dir('tmp', 0o1777)
    .file(long, Buffer.alloc(1000, 7));
}

describe('cpio and tar writers', () => {
  it('writes a newc cpio that cpio(1) lists with modes, links and devices', async () => {
    const file = join(dir, 'initrd.cpio');
    writeFileSync(file, writeCpio(sample().entries()));
    const { stdout } = await run('cpio', ['-itv', '-F', file]);
    assert.match(stdout, /^-rwxr-xr-x\s+1 root\s+root\s+18 .* init$/m);
    assert.match(stdout, /^lrwxrwxrwx .* bin\/sh -> \/bin\/busybox$/m);
    assert.match(stdout, /^crw-------\s+1 root\s+root\s+5,\s+1 .* dev\/console$/m);
    assert.match(stdout, /^drwxrwxrwt .* tmp$/m);
    assert.match(stdout, /^-rw-------\s+1 root\s+root\s+22 .* etc\/shadow$/m);
  });

  it('writes a ustar archive that tar(1) extracts byte for byte', async () => {
    const file = join(dir, 'layer.tar');
    writeFileSync(file, await writeTar(sample().entries()));
    const { stdout } = await run('tar', ['-tvf', file, '--numeric-owner']);
    assert.match(stdout, /^-rwxr-xr-x 0\/0\s+18 .* init$/m);
    assert.match(stdout, /^lrwxrwxrwx 0\/0\s+0 .* bin\/sh -> \/bin\/busybox$/m);
    assert.match(stdout, /^crw------- 0\/0\s+5,1 .* dev\/console$/m);
    assert.match(stdout, /vmw_vsock_virtio_transport_common\.ko$/m);
    const out = join(dir, 'x');
    await run('mkdir', ['-p', out]);
    await run('tar', ['-xf', file, '-C', out, '--exclude', 'dev/console']);
    assert.equal(readFileSync(join(out, 'init'), 'utf8'), '#!/bin/sh\necho hi\n');
  });

  it('is reproducible and refuses paths that escape the tree', async () => {
    assert.deepEqual(await writeTar(sample().entries()), await writeTar(sample().entries()));
    assert.throws(() => new Tree().file('../etc/passwd', 'x'), /bad guest path/);
    assert.throws(() => new Tree().file('a', 'x').file('a', 'y'), /added twice/);
  });
});

describe('OCI layout writer', () => {
  it('writes a layout whose digests, sizes and diff_ids all match', async () => {
    const layers = await Promise.all([sample(), new Tree().file('boot/vmlinuz-1', 'kernel')].map(async (t, i) => ({ tar: await writeTar(t.entries()), comment: `layer ${i}` })));
    const image = await buildOciLayout({ layers, refName: 'default' });
    const file = join(dir, 'oci.tar');
    writeFileSync(file, image.tarball);
    const out = join(dir, 'oci');
    await run('mkdir', ['-p', out]);
    await run('tar', ['-xf', file, '-C', out]);
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
    for (const name of readdirSync(join(out, 'blobs/sha256'))) {
      assert.equal(createHash('sha256').update(readFileSync(join(out, 'blobs/sha256', name))).digest('hex'), name);
    }
    const blob = (digest: string) => readFileSync(join(out, 'blobs/sha256', digest.replace('sha256:', '')));
    const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8'));
    assert.equal(index.manifests[0].mediaType, MEDIA_MANIFEST);
    assert.equal(index.manifests[0].annotations['org.opencontainers.image.ref.name'], 'default');
    assert.equal(index.manifests[0].digest, image.manifestDigest);
    const manifest = JSON.parse(blob(image.manifestDigest).toString());
    assert.equal(manifest.layers.length, 2);
    const config = JSON.parse(blob(manifest.config.digest).toString());
    manifest.layers.forEach((layer: { mediaType: string; digest: string; size: number }, i: number) => {
      assert.equal(layer.mediaType, MEDIA_LAYER_GZIP);
      assert.equal(blob(layer.digest).length, layer.size);
      const diffId = `sha256:${createHash('sha256').update(gunzipSync(blob(layer.digest))).digest('hex')}`;
      assert.equal(config.rootfs.diff_ids[i], diffId);
    });
    assert.equal((await buildOciLayout({ layers, refName: 'default' })).manifestDigest, image.manifestDigest, 'deterministic');
  });
});
