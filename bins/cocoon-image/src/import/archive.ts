/**
 * Reads a spooled image archive (OCI image layout or `docker save`) into an import plan:
 * which layer files, in which order, with which digests. Every JSON document is checked
 * against the digest that names it and parsed with its schema.
 */
import { InvalidDataError } from '@cocoon/common/errors';
import {
  DockerSaveManifestSchema,
  INDEX_MEDIA_TYPES,
  OciImageConfigSchema,
  OciIndexSchema,
  OciManifestSchema,
  type OciDescriptor,
  type OciImageConfig,
} from '@cocoon/common/schemas/oci';
import type { ImageRecord } from '@cocoon/common/schemas/image';
import type { z } from 'zod';
import type { Spool, SpooledFile } from './spool.ts';

export interface LayerPlan {
  file: SpooledFile;
  /** Digest of the blob as the manifest names it; verified against the file. */
  digest: string;
  /** The config's diff_id for this layer: the uncompressed tar is checked against it. */
  diff_id: string | null;
  media_type: string;
}

export interface ImagePlan {
  format: 'oci-layout' | 'docker-save';
  /** Manifest digest (OCI layout) or config digest (docker save: the Docker image ID). */
  digest: string;
  platform: string | null;
  config: ImageRecord['config'];
  /** Bottom layer first. */
  layers: LayerPlan[];
}

const NOT_IMAGE = 'is not an image (expected an OCI layout or docker-save tarball)';

/** Builds the plan, or throws InvalidDataError when the archive is not a usable image. */
export async function planImage(spool: Spool): Promise<ImagePlan> {
  if (spool.get('oci-layout') && spool.get('index.json')) return planOciLayout(spool);
  if (spool.get('manifest.json')) return planDockerSave(spool);
  throw new InvalidDataError(`${spool.label} ${NOT_IMAGE}`);
}

async function planOciLayout(spool: Spool): Promise<ImagePlan> {
  let index = parse(spool, 'index.json', OciIndexSchema, await spool.json('index.json'));
  for (let depth = 0; ; depth++) {
    const desc = pickManifest(spool, index.manifests);
    const doc = await blobJson(spool, desc);
    if (!INDEX_MEDIA_TYPES.includes(desc.mediaType ?? '') && !(isObject(doc) && 'manifests' in doc)) {
      const manifest = parse(spool, desc.digest, OciManifestSchema, doc);
      const config = parse(spool, manifest.config.digest, OciImageConfigSchema, await blobJson(spool, manifest.config));
      const diffIds = checkedDiffIds(spool, config, manifest.layers.length);
      const layers = manifest.layers.map((l, i) => layerPlan(spool, blobPath(l.digest), l.digest, diffIds[i] ?? null, l.mediaType, l.size));
      return { format: 'oci-layout', digest: desc.digest, platform: platformOf(config), config: runConfig(config), layers };
    }
    if (depth >= 2) throw new InvalidDataError(`${spool.label}: image indexes nested too deeply`);
    index = parse(spool, desc.digest, OciIndexSchema, doc);
  }
}

async function planDockerSave(spool: Spool): Promise<ImagePlan> {
  const entries = parse(spool, 'manifest.json', DockerSaveManifestSchema, await spool.json('manifest.json'));
  const entry = entries[0];
  if (!entry || entries.length !== 1) {
    throw new InvalidDataError(`${spool.label}: docker-save manifest.json lists ${entries.length} images; import exactly one`);
  }
  const configFile = spool.get(entry.Config);
  if (!configFile) throw new InvalidDataError(`${spool.label}: config ${entry.Config} is missing from the archive`);
  const config = parse(spool, entry.Config, OciImageConfigSchema, await spool.json(entry.Config));
  const diffIds = checkedDiffIds(spool, config, entry.Layers.length);
  const layers = entry.Layers.map((name, i) => {
    // NOTE: docker save writes uncompressed layer tars, so their blob digest is the diff_id.
    const named = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(name);
    const digest = named ? `sha256:${named[1]}` : (diffIds[i] as string);
    return layerPlan(spool, name, digest, diffIds[i] ?? null, 'application/vnd.docker.image.rootfs.diff.tar');
  });
  return { format: 'docker-save', digest: configFile.digest, platform: platformOf(config), config: runConfig(config), layers };
}

/** A layer file checked against its digest, and its descriptor's size when there is one (docker save has none). */
function layerPlan(spool: Spool, name: string, digest: string, diffId: string | null, mediaType: string | undefined, size?: number): LayerPlan {
  const file = spool.get(name);
  if (!file) throw new InvalidDataError(`${spool.label}: layer ${name} is missing from the archive`);
  if (file.digest !== digest) {
    throw new InvalidDataError(`${spool.label}: layer ${name} does not match its digest (expected ${digest}, got ${file.digest})`);
  }
  if (size !== undefined) checkSize(spool, `layer ${digest}`, size, file.size);
  return { file, digest, diff_id: diffId, media_type: mediaType ?? 'application/vnd.oci.image.layer.v1.tar' };
}

/** Prefers linux/amd64, then a descriptor without platform, then the only one. */
function pickManifest(spool: Spool, manifests: OciDescriptor[]): OciDescriptor {
  const amd64 = manifests.find((m) => m.platform?.os === 'linux' && m.platform.architecture === 'amd64');
  const pick = amd64 ?? manifests.find((m) => !m.platform) ?? (manifests.length === 1 ? manifests[0] : undefined);
  if (!pick) throw new InvalidDataError(`${spool.label}: no linux/amd64 image in the layout's index.json`);
  return pick;
}

async function blobJson(spool: Spool, desc: OciDescriptor): Promise<unknown> {
  const name = blobPath(desc.digest);
  const file = spool.get(name);
  if (!file) throw new InvalidDataError(`${spool.label}: blob ${desc.digest} is missing from the layout`);
  if (file.digest !== desc.digest) throw new InvalidDataError(`${spool.label}: blob ${desc.digest} does not match its digest (got ${file.digest})`);
  checkSize(spool, `blob ${desc.digest}`, desc.size, file.size);
  return spool.json(name);
}

/** A descriptor's `size` must be the blob's (the OCI spec: clients verify size and digest). */
function checkSize(spool: Spool, what: string, declared: number, actual: number): void {
  if (declared !== actual) throw new InvalidDataError(`${spool.label}: ${what} is ${actual} bytes, but its descriptor says ${declared}`);
}

function checkedDiffIds(spool: Spool, config: OciImageConfig, layers: number): string[] {
  const ids = config.rootfs.diff_ids;
  if (ids.length !== layers) {
    throw new InvalidDataError(`${spool.label}: the config lists ${ids.length} diff_ids for ${layers} layers`);
  }
  if (layers === 0) throw new InvalidDataError(`${spool.label}: the image has no layers`);
  return ids;
}

function parse<S extends z.ZodType>(spool: Spool, what: string, schema: S, value: unknown): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidDataError(`${spool.label}: ${what} is malformed (${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'})`);
  }
  return parsed.data;
}

function blobPath(digest: string): string {
  return `blobs/${digest.replace(':', '/')}`;
}

/** `os/arch[/variant]` of an image config, when it names one. */
export function platformOf(config: OciImageConfig): string | null {
  if (!config.os || !config.architecture) return null;
  return [config.os, config.architecture, config.variant].filter(Boolean).join('/');
}

/** The env/entrypoint/cmd an image record keeps from the config. */
export function runConfig(config: OciImageConfig): ImageRecord['config'] {
  const c = config.config;
  return { env: c?.Env ?? [], entrypoint: c?.Entrypoint ?? null, cmd: c?.Cmd ?? null };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}
