/**
 * Packs uncompressed layer tars into an OCI image layout tarball (`oci-layout`,
 * `index.json`, `blobs/sha256/<hex>` for the gzip'ed layers, the config and the
 * manifest), which `cocoon-image import` takes like any other OCI archive.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { writeTar } from './tar.ts';
import { Tree } from './tree.ts';

export const MEDIA_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MEDIA_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const MEDIA_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

export interface OciLayer {
  /** The uncompressed layer tar. */
  tar: Buffer;
  /** What the layer holds, for the config history. */
  comment: string;
}

export interface OciImageOptions {
  layers: readonly OciLayer[];
  /** Name recorded as the index's `org.opencontainers.image.ref.name`. */
  refName: string;
  /** Extra annotations on the manifest (e.g. the kernel version). */
  annotations?: Record<string, string>;
}

export interface OciImage {
  /** The layout tarball (uncompressed tar). */
  tarball: Buffer;
  manifestDigest: string;
  layerDigests: string[];
  diffIds: string[];
}

/** Builds the OCI layout tarball in memory. Deterministic for identical inputs. */
export async function buildOciLayout(opts: OciImageOptions): Promise<OciImage> {
  const blobs = new Map<string, Buffer>();
  const add = (data: Buffer): { digest: string; size: number } => {
    const digest = sha256(data);
    blobs.set(digest, data);
    return { digest, size: data.length };
  };
  const diffIds = opts.layers.map((l) => sha256(l.tar));
  // level 6 and Node's fixed gzip header (mtime 0) keep the compressed digests stable.
  const layers = opts.layers.map((l) => ({ mediaType: MEDIA_LAYER_GZIP, ...add(gzipSync(l.tar, { level: 6 })) }));
  const config = {
    architecture: 'amd64',
    os: 'linux',
    created: '2024-01-01T00:00:00Z',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/sbin/init'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: opts.layers.map((l) => ({ created: '2024-01-01T00:00:00Z', created_by: 'cocoon-image build-default', comment: l.comment })),
  };
  const configDesc = { mediaType: MEDIA_CONFIG, ...add(json(config)) };
  const manifest = { schemaVersion: 2, mediaType: MEDIA_MANIFEST, config: configDesc, layers, annotations: opts.annotations };
  const manifestDesc = add(json(manifest));
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      {
        mediaType: MEDIA_MANIFEST,
        ...manifestDesc,
        platform: { architecture: 'amd64', os: 'linux' },
        annotations: { 'org.opencontainers.image.ref.name': opts.refName },
      },
    ],
  };
  const tree = new Tree()
    .file('oci-layout', json({ imageLayoutVersion: '1.0.0' }))
    .file('index.json', json(index));
  for (const [digest, data] of blobs) tree.file(`blobs/sha256/${digest.slice('sha256:'.length)}`, data);
  return {
    tarball: await writeTar(tree.entries()),
    manifestDigest: manifestDesc.digest,
    layerDigests: layers.map((l) => l.digest),
    diffIds,
  };
}

/** `sha256:<hex>` of a buffer. */
export function sha256(data: Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}
