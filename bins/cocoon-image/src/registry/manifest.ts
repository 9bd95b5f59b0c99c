/**
 * Manifest resolution: fetch by tag or digest, verify the digest, and walk an image
 * index / manifest list down to the manifest of the wanted platform.
 */
import { createHash } from 'node:crypto';
import { InvalidDataError, NotFoundError, UsageError } from '@cocoon/common/errors';
import { MEDIA_TYPES, OciIndexSchema, OciManifestSchema, type OciDescriptor, type OciManifest, type Platform } from '@cocoon/common/schemas/oci';
import { readBody, type RegistryClient } from '@cocoon/common/registry/client';

const ACCEPT = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList, MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest].join(', ');
const MAX_MANIFEST = 4 << 20;

/** A manifest with the digest it was verified against. */
export interface ResolvedManifest {
  manifest: OciManifest;
  digest: string;
  /** `os/arch[/variant]` of the chosen entry (from the index, or the requested one). */
  platform: string;
}

/** `linux/amd64`, `linux/arm64/v8` → its parts; a UsageError on anything else. */
export function parsePlatform(value: string): Platform {
  const [os, architecture, variant, extra] = value.split('/');
  if (!os || !architecture || extra !== undefined) throw new UsageError(`--platform: "${value}" is not os/arch[/variant] (e.g. linux/amd64)`);
  return variant ? { os, architecture, variant } : { os, architecture };
}

/** The index entry for `want`, or a NotFoundError listing what the image offers. */
export function selectPlatform(entries: readonly OciDescriptor[], want: Platform, what: string): OciDescriptor {
  const hits = entries.filter((d) => d.platform?.os === want.os && d.platform.architecture === want.architecture);
  const exact = want.variant ? hits.find((d) => d.platform?.variant === want.variant) : hits[0];
  if (exact) return exact;
  const offered = entries.map((d) => (d.platform ? [d.platform.os, d.platform.architecture, d.platform.variant].filter(Boolean).join('/') : 'unknown'));
  throw new NotFoundError(`${what} has no manifest for ${[want.os, want.architecture, want.variant].filter(Boolean).join('/')} (it has: ${offered.join(', ') || 'none'}); choose one with --platform`);
}

/** Resolves `selector` (tag or digest) to the manifest for `platform`. */
export async function resolveManifest(client: RegistryClient, selector: string, platform: Platform, what: string): Promise<ResolvedManifest> {
  const top = await fetchManifest(client, selector, what);
  const want = [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/');
  const index = OciIndexSchema.safeParse(top.json);
  if (index.success && !('config' in (top.json as object))) {
    const entry = selectPlatform(index.data.manifests, platform, what);
    const child = await fetchManifest(client, entry.digest, what);
    if (child.size !== entry.size) throw new InvalidDataError(`${what}: manifest ${entry.digest} is ${child.size} bytes, the index says ${entry.size}`);
    return { manifest: asManifest(child.json, what), digest: child.digest, platform: want };
  }
  return { manifest: asManifest(top.json, what), digest: top.digest, platform: want };
}

function asManifest(json: unknown, what: string): OciManifest {
  const parsed = OciManifestSchema.safeParse(json);
  if (!parsed.success) throw new InvalidDataError(`${what}: not an OCI or Docker v2 image manifest (schema 1 and other formats are not supported)`);
  return parsed.data;
}

async function fetchManifest(client: RegistryClient, selector: string, what: string): Promise<{ json: unknown; digest: string; size: number }> {
  const res = await client.get(`manifests/${selector}`, { accept: ACCEPT });
  const body = await readBody(res, MAX_MANIFEST, `${what} manifest`);
  const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  // NOTE: a pinned digest is checked against the bytes; a tag against the header the registry sent.
  const expected = selector.startsWith('sha256:') ? selector : headerDigest(res.headers['docker-content-digest']);
  if (expected && expected !== digest) throw new InvalidDataError(`${what}: manifest digest mismatch (expected ${expected}, got ${digest})`);
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new InvalidDataError(`${what}: manifest ${selector} is not valid JSON`);
  }
  if (json === null || typeof json !== 'object') throw new InvalidDataError(`${what}: manifest ${selector} is not a JSON object`);
  return { json, digest, size: body.length };
}

function headerDigest(value: string | string[] | undefined): string | null {
  const v = Array.isArray(value) ? value[0] : value;
  return v && v.startsWith('sha256:') ? v : null;
}
