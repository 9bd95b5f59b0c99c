/**
 * Test images as OCI layouts on disk (`oci:DIR:TAG` for skopeo): layers are tars made
 * with tar-stream and gzipped; an optional index makes a multi-platform image.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';

export type LayerFiles = Record<string, string | Buffer>;

export interface BuiltImage {
  manifestDigest: string;
  layerDigests: string[];
  layerSizes: number[];
}

function digestOf(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** A tar of `files` (directories are created for parents). */
export async function makeTar(files: LayerFiles): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c) => void chunks.push(c as Buffer));
  const done = new Promise<void>((resolve) => p.on('end', () => resolve()));
  const dirs = new Set<string>();
  for (const name of Object.keys(files)) {
    const parts = name.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  for (const d of [...dirs].sort()) p.entry({ name: `${d}/`, type: 'directory', mode: 0o755, mtime: new Date(0) });
  for (const [name, content] of Object.entries(files)) p.entry({ name, mode: 0o644, mtime: new Date(0) }, content);
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

function writeBlob(dir: string, data: Buffer): { digest: string; size: number } {
  const digest = digestOf(data);
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), data);
  return { digest, size: data.length };
}

/** Writes one image (manifest + config + layers) into the layout at `dir`; returns its descriptor. */
export async function addImage(dir: string, layers: Array<LayerFiles | Buffer>, platform = { os: 'linux', architecture: 'amd64' }) {
  // A Buffer is a ready-made tar (e.g. one with hostile entries).
  const tars = await Promise.all(layers.map((l) => (Buffer.isBuffer(l) ? l : makeTar(l))));
  const gz = tars.map((t) => gzipSync(t, { level: 1 }));
  const layerDescs = gz.map((g) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...writeBlob(dir, g) }));
  const config = { ...platform, config: { Env: ['PATH=/bin'], Cmd: ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: tars.map(digestOf) } };
  const configDesc = { mediaType: 'application/vnd.oci.image.config.v1+json', ...writeBlob(dir, Buffer.from(JSON.stringify(config))) };
  const manifest = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: configDesc, layers: layerDescs };
  const m = writeBlob(dir, Buffer.from(JSON.stringify(manifest)));
  return { mediaType: manifest.mediaType, ...m, platform, layers: layerDescs };
}

/** Writes `index.json` + `oci-layout` naming `top` as `tag`. */
export function finishLayout(dir: string, tag: string, top: { mediaType: string; digest: string; size: number }): void {
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const entry = { mediaType: top.mediaType, digest: top.digest, size: top.size, annotations: { 'org.opencontainers.image.ref.name': tag } };
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [entry] }));
}

/** A single-platform image layout at `dir`. */
export async function buildImage(dir: string, tag: string, layers: Array<LayerFiles | Buffer>): Promise<BuiltImage> {
  const img = await addImage(dir, layers);
  finishLayout(dir, tag, img);
  return { manifestDigest: img.digest, layerDigests: img.layers.map((l) => l.digest), layerSizes: img.layers.map((l) => l.size) };
}

/** A multi-platform image: an OCI index over one image per platform. */
export async function buildIndex(dir: string, tag: string, platforms: Array<{ os: string; architecture: string }>, layers: LayerFiles[]): Promise<string> {
  const imgs = [];
  for (const p of platforms) imgs.push(await addImage(dir, [...layers, { [`etc/${p.architecture}`]: p.architecture }], p));
  const index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: imgs.map((i) => ({ mediaType: i.mediaType, digest: i.digest, size: i.size, platform: i.platform })) };
  const top = { mediaType: index.mediaType, ...writeBlob(dir, Buffer.from(JSON.stringify(index))) };
  finishLayout(dir, tag, top);
  return top.digest;
}

/** A guest-shaped image: kernel + initramfs under boot/ in the bottom layer, an app layer on top. */
export function guestLayers(seed: string): LayerFiles[] {
  return [
    { 'boot/vmlinuz-6.1.0-test': `kernel ${seed}`, 'boot/initrd.img-6.1.0-test': `initrd ${seed}`, 'etc/os-release': 'ID=test\n' },
    { [`srv/${seed}.txt`]: Buffer.alloc(64 << 10, seed) },
  ];
}
