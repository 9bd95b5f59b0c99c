/**
 * Fetching an image from a registry: manifest (platform-selected, digest-verified), config,
 * and the layer blobs the store does not have yet, downloaded concurrently into temp files.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm, statfs } from 'node:fs/promises';
import { ExternalError, InvalidDataError } from '@cocoon/common/errors';
import type { Layout } from '@cocoon/common/layout';
import { log } from '@cocoon/common/log';
import { OciImageConfigSchema, type OciDescriptor, type OciImageConfig } from '@cocoon/common/schemas/oci';
import { layerDiskPath } from '@cocoon/common/images/store';
import { formatSize } from '@cocoon/common/units';
import { findCredentials } from '@cocoon/common/registry/auth';
import { mapLimit } from '@cocoon/common/map-limit';
import { NO_PROGRESS, type Progress } from '../progress/index.ts';
import { downloadBlob, fetchSmallBlob, type DownloadStats } from '@cocoon/common/registry/blob';
import { RegistryClient } from '@cocoon/common/registry/client';
import { parsePlatform, resolveManifest } from './manifest.ts';
import { formatReference, manifestSelector, parseReference, type ImageReference } from '@cocoon/common/registry/reference';

export interface FetchOptions {
  reference: string;
  /** `os/arch[/variant]`, default `linux/amd64`. */
  platform?: string;
  /** Allow plain HTTP to this registry. */
  insecure?: boolean;
  /** Download every layer even when its disk is in the store. */
  force?: boolean;
  username?: string;
  password?: string;
  env: NodeJS.ProcessEnv;
  /** Parallel layer downloads (default 3). */
  concurrency?: number;
  timeoutMs?: number;
  /** Where downloads are reported (default: nowhere). */
  progress?: Progress;
}

export interface FetchedLayer {
  descriptor: OciDescriptor;
  /** The config's diff_id for this layer (digest of the uncompressed tar), when listed. */
  diffId: string | null;
  /** The verified blob in `layout.tmp`, or null when the store already has this layer's disk. */
  blobPath: string | null;
}

export interface FetchedImage {
  reference: ImageReference;
  /** Canonical reference (`docker.io/library/ubuntu:latest`). */
  name: string;
  manifestDigest: string;
  platform: string;
  config: OciImageConfig;
  layers: FetchedLayer[];
  /** Bytes received for layer blobs. */
  downloadedBytes: number;
}

const MAX_CONFIG = 8 << 20;
const LAYER_TYPE = /^application\/vnd\.(oci\.image\.layer\.v1\.tar(\+gzip|\+zstd)?|docker\.image\.rootfs\.diff\.tar\.gzip)$/;

/** A resolved image: manifest and config checked, layers not yet downloaded. */
export interface ResolvedImage extends Omit<FetchedImage, 'layers' | 'downloadedBytes'> {
  /** Open client of the image's repository; the caller closes it. */
  client: RegistryClient;
  layers: Array<Omit<FetchedLayer, 'blobPath'>>;
  /** Distinct layers the store lacks (all of them with `force`). */
  missing: OciDescriptor[];
}

/**
 * Resolves `opts.reference` to a platform's manifest and config (digest-verified) and checks
 * there is room for the layers the store lacks. The caller closes `client`.
 */
export async function resolveImage(layout: Layout, opts: FetchOptions): Promise<ResolvedImage> {
  const reference = parseReference(opts.reference);
  const name = formatReference(reference);
  const credentials = findCredentials(reference.registry, { username: opts.username, password: opts.password, env: opts.env });
  const client = new RegistryClient({ registry: reference.registry, repository: reference.repository, insecure: opts.insecure ?? false, credentials, timeoutMs: opts.timeoutMs });
  try {
    await client.ping();
    const want = parsePlatform(opts.platform ?? 'linux/amd64');
    const resolved = await resolveManifest(client, manifestSelector(reference), want, name);
    const config = parseConfig(await fetchSmallBlob(client, resolved.manifest.config, MAX_CONFIG), name);
    const diffIds = config.rootfs.diff_ids;
    const layers = resolved.manifest.layers;
    if (layers.length === 0) throw new InvalidDataError(`${name}: the manifest lists no layers`);
    for (const l of layers) if (!LAYER_TYPE.test(l.mediaType ?? '')) throw new InvalidDataError(`${name}: layer ${l.digest} has media type ${l.mediaType ?? '(none)'}, not a tar layer`);
    const missing = unique(layers.filter((l) => opts.force || !existsSync(layerDiskPath(layout, l.digest))));
    await checkSpace(layout, missing, name);
    return {
      client,
      reference,
      name,
      manifestDigest: resolved.digest,
      platform: resolved.platform,
      config,
      layers: layers.map((descriptor, i) => ({ descriptor, diffId: diffIds[i] ?? null })),
      missing,
    };
  } catch (err) {
    await client.close();
    throw err;
  }
}

/** Fetches `opts.reference` with the missing layer blobs as temp files (see `discardBlobs`). */
export async function fetchImage(layout: Layout, opts: FetchOptions): Promise<FetchedImage> {
  const { client, missing, ...image } = await resolveImage(layout, opts);
  try {
    const progress = opts.progress ?? NO_PROGRESS;
    for (const l of unique(image.layers.map((x) => x.descriptor))) if (!missing.includes(l)) progress.cached(image.name, l.digest, 'download', l.size);
    const stats: DownloadStats = { bytes: 0 };
    const paths = await downloadAll(client, layout, missing, stats, { limit: opts.concurrency ?? 3, progress, image: image.name });
    log().info({ image: image.name, digest: image.manifestDigest, layers: image.layers.length, downloaded: missing.length, bytes: stats.bytes }, 'image fetched');
    return { ...image, layers: image.layers.map((l) => ({ ...l, blobPath: paths.get(l.descriptor.digest) ?? null })), downloadedBytes: stats.bytes };
  } finally {
    await client.close();
  }
}

/** Downloads `descs`; on any failure every temp file made so far is removed. */
async function downloadAll(client: RegistryClient, layout: Layout, descs: OciDescriptor[], stats: DownloadStats, o: { limit: number; progress: Progress; image: string }): Promise<Map<string, string>> {
  const paths = new Map<string, string>();
  try {
    await mapLimit(descs, o.limit, async (d, signal) => {
      const task = o.progress.begin(o.image, d.digest, 'download', d.size);
      paths.set(d.digest, await downloadBlob(client, d, layout.tmp, stats, signal, (n) => task.add(n)));
      task.done();
    });
  } catch (err) {
    await discardBlobs([...paths.values()]);
    throw err;
  }
  return paths;
}

/** Removes fetched blob files (after conversion or on failure). */
export async function discardBlobs(paths: Iterable<string | null>): Promise<void> {
  for (const p of paths) if (p) await rm(p, { force: true });
}

function parseConfig(bytes: Buffer, name: string): OciImageConfig {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new InvalidDataError(`${name}: the image config is not valid JSON`);
  }
  const parsed = OciImageConfigSchema.safeParse(json);
  if (!parsed.success) throw new InvalidDataError(`${name}: not an OCI image config (${parsed.error.issues[0]?.message ?? 'bad shape'})`);
  return parsed.data;
}

/** Fails before downloading when the claimed sizes cannot fit (a 20 GiB claim on a small disk). */
async function checkSpace(layout: Layout, descs: OciDescriptor[], name: string): Promise<void> {
  await mkdir(layout.tmp, { recursive: true, mode: 0o700 });
  const fs = await statfs(layout.tmp);
  const free = fs.bavail * fs.bsize;
  const need = descs.reduce((n, d) => n + d.size, 0);
  // NOTE: conversion needs room for the extracted tree and the EROFS disk too; 2× is a floor, not a promise.
  if (need * 2 > free) throw new ExternalError(`${name}: layers to download total ${formatSize(need)}, but ${layout.tmp} has only ${formatSize(free)} free (need about twice that)`);
}

function unique(descs: OciDescriptor[]): OciDescriptor[] {
  const seen = new Set<string>();
  return descs.filter((d) => !seen.has(d.digest) && Boolean(seen.add(d.digest)));
}
