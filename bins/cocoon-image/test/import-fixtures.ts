/** Test fixtures: layer tars, OCI image layouts and docker-save tarballs made with tar-stream. */
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';

export interface Entry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'fifo';
  data?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  linkname?: string;
  mtime?: Date;
}

const MTIME = new Date('2020-02-02T02:02:02Z');

/** A tar of `entries` (in order). */
export async function makeTar(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(Buffer.from(c as Uint8Array));
  })();
  for (const e of entries) {
    const type = e.type ?? 'file';
    const data = e.data === undefined ? undefined : Buffer.from(e.data);
    const header = { name: e.name, type, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), uid: e.uid ?? 0, gid: e.gid ?? 0, mtime: e.mtime ?? MTIME, linkname: e.linkname };
    await new Promise<void>((resolve, reject) => {
      pack.entry(header, data ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A layer with a kernel and an initrd (kernel reached through a symlink). */
export function kernelLayer(tag = 'A'): Entry[] {
  return [
    { name: 'boot/', type: 'directory' },
    { name: 'boot/vmlinuz-6.1.0-test', data: `kernel ${tag}` },
    { name: 'boot/initrd.img-6.1.0-test', data: `initrd ${tag}` },
    { name: 'boot/vmlinuz', type: 'symlink', linkname: 'vmlinuz-6.1.0-test' },
  ];
}

export interface Layer {
  tar: Buffer;
  gzip?: boolean;
  /** The blob as stored (e.g. zstd-compressed); default: the tar, gzipped when `gzip`. */
  blob?: Buffer;
}

/** An OCI image layout tarball of `layers` (bottom first). */
export async function ociLayout(layers: Layer[], opts: { configOverride?: object; wrongDigest?: boolean; layerSize?: (size: number) => number } = {}): Promise<Buffer> {
  const blobs = new Map<string, Buffer>();
  const descs = layers.map((l) => {
    const blob = l.blob ?? (l.gzip ? gzipSync(l.tar) : l.tar);
    const digest = sha(blob);
    blobs.set(digest, opts.wrongDigest ? Buffer.concat([blob, Buffer.from('x')]) : blob);
    return { mediaType: `application/vnd.oci.image.layer.v1.tar${l.gzip ? '+gzip' : ''}`, digest, size: opts.layerSize ? opts.layerSize(blob.length) : blob.length };
  });
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Env: ['PATH=/bin'], Cmd: ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: layers.map((l) => sha(l.tar)) }, ...opts.configOverride }));
  blobs.set(sha(config), config);
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length }, layers: descs }));
  blobs.set(sha(manifest), manifest);
  const index = { schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(manifest), size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }] };
  return makeTar([
    { name: 'oci-layout', data: JSON.stringify({ imageLayoutVersion: '1.0.0' }) },
    { name: 'index.json', data: JSON.stringify(index) },
    { name: 'blobs/', type: 'directory' },
    { name: 'blobs/sha256/', type: 'directory' },
    ...[...blobs].map(([d, b]) => ({ name: `blobs/sha256/${d.slice(7)}`, data: b })),
  ]);
}

/**
 * A tar whose one entry's header claims `size` bytes (base-256, as GNU tar writes sizes of
 * 8 GiB and more) while the archive ends right after the header.
 */
export async function tarClaiming(name: string, size: bigint): Promise<Buffer> {
  const header = Buffer.from((await makeTar([{ name, data: 'x' }])).subarray(0, 512));
  header.fill(0, 124, 136);
  header[124] = 0x80;
  header.writeBigUInt64BE(size, 128);
  header.fill(0x20, 148, 156);
  const sum = header.reduce((n, b) => n + b, 0);
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return header;
}

/** A docker-save tarball (legacy layout: `<id>/layer.tar`) of uncompressed `layers`. */
export async function dockerSave(layers: Buffer[]): Promise<Buffer> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Env: [], Entrypoint: ['/init'] }, rootfs: { type: 'layers', diff_ids: layers.map((l) => sha(l)) } }));
  const cfgName = `${sha(config).slice(7)}.json`;
  const names = layers.map((l, i) => `${sha(l).slice(7, 19)}${i}/layer.tar`);
  return makeTar([
    { name: cfgName, data: config },
    ...layers.map((l, i) => ({ name: names[i] as string, data: l })),
    { name: 'manifest.json', data: JSON.stringify([{ Config: cfgName, RepoTags: ['test:latest'], Layers: names }]) },
    { name: 'repositories', data: JSON.stringify({ test: { latest: names[0]?.split('/')[0] } }) },
  ]);
}

/** Every path under `root` except lock files and logs, for before/after comparisons. */
export function snapshot(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string): void => {
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      if (r === 'locks' || r.startsWith('cocoon.log')) continue;
      out.push(r);
      if (d.isDirectory()) walk(`${dir}/${d.name}`, r);
    }
  };
  walk(root, '');
  return out.sort();
}

/** A base layer with owners, modes, a hardlink, a symlink, a device and files to delete later. */
export function baseLayer(): Entry[] {
  return [
    { name: './', type: 'directory', mode: 0o755 },
    { name: 'etc/', type: 'directory', mode: 0o755 },
    { name: 'etc/shadow', data: 'secret', uid: 42, gid: 43, mode: 0o640, mtime: new Date('2019-01-01T00:00:00Z') },
    { name: 'etc/shadow-hard', type: 'link', linkname: 'etc/shadow' },
    { name: 'bin/', type: 'directory' },
    { name: 'bin/su', data: 'su', mode: 0o4755 },
    { name: 'sbin', type: 'symlink', linkname: 'bin' },
    { name: 'dev/', type: 'directory' },
    { name: 'dev/null', type: 'character-device', mode: 0o666 },
    { name: 'var/old/', type: 'directory' },
    { name: 'var/old/file', data: 'old' },
    { name: 'var/gone', data: 'gone' },
  ];
}
