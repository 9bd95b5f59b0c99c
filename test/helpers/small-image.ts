/**
 * A small OCI layout tarball for campaigns that import and pull many times: one layer with a
 * kernel, an initrd and 4 MiB of random data (not bootable: it is never started).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Builds the tarball in `scratch` (names in the layer end with `-<tag>`); returns its path. */
export async function makeSmallImageTar(scratch: string, tag: string): Promise<string> {
  const layer = join(scratch, 'layer');
  mkdirSync(join(layer, 'boot'), { recursive: true });
  writeFileSync(join(layer, 'boot', `vmlinuz-${tag}`), 'kernel');
  writeFileSync(join(layer, 'boot', `initrd.img-${tag}`), 'initrd');
  writeFileSync(join(layer, 'data.bin'), randomBytes(4 << 20));
  const layout = join(scratch, 'layout');
  mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
  const blob = (data: Buffer) => {
    const hex = sha(data);
    writeFileSync(join(layout, 'blobs', 'sha256', hex), data);
    return { digest: `sha256:${hex}`, size: data.length };
  };
  await execa('tar', ['-C', layer, '-cf', join(scratch, 'layer.tar'), '.']);
  const l = blob(readFileSync(join(scratch, 'layer.tar')));
  const config = blob(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [l.digest] } })));
  const manifest = blob(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...l }] })));
  writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest }] }));
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const out = join(scratch, 'image.tar');
  await execa('tar', ['-C', layout, '-cf', out, '.']);
  return out;
}
