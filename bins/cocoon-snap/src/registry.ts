/**
 * Snapshots in OCI registries: `push` stores a snapshot as an OCI artifact (artifactType
 * `application/vnd.cocoon.snapshot.v1`): the config blob is the export's `snapshot.json`, and
 * each file is one layer, a one-entry tar exactly as an export writes it (sparse disks as GNU
 * sparse 1.0), titled with the file's name. Layers are deterministic (mtime = the snapshot's
 * creation time), so a blob the registry already has is skipped (HEAD), and unchanged files
 * cost nothing on the next push. `pull` verifies every blob's digest while it streams, checks
 * each file against the manifest like an import, and stages before anything becomes visible.
 * The registry client (auth, tokens, digest checks) is cocoon-image's, shared in libs/common.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Writable, type Readable } from 'node:stream';
import tar from 'tar-stream';
import { z } from 'zod';
import { InvalidDataError } from '@cocoon/common/errors';
import type { Layout } from '@cocoon/common/layout';
import { findCredentials } from '@cocoon/common/registry/auth';
import { fetchSmallBlob, streamBlob } from '@cocoon/common/registry/blob';
import { readBody, RegistryClient } from '@cocoon/common/registry/client';
import { formatReference, manifestSelector, parseReference } from '@cocoon/common/registry/reference';
import { MEDIA_TYPES, OciDescriptorSchema } from '@cocoon/common/schemas/oci';
import type { SnapshotRecord } from '@cocoon/common/schemas/snapshot';
import { findSnapshot, snapshotDir } from '@cocoon/common/snapshots/store';
import { tempPath } from '@cocoon/common/store/temp';
import { exportFile, manifestOf } from './archive/export.ts';
import { ArchiveWriter, asInvalid, parseManifest } from './archive/import.ts';
import { importInto, type ImportRequest } from './transfer.ts';

export const SNAPSHOT_ARTIFACT = 'application/vnd.cocoon.snapshot.v1';
export const SNAPSHOT_CONFIG = 'application/vnd.cocoon.snapshot.config.v1+json';
export const SNAPSHOT_FILE = 'application/vnd.cocoon.snapshot.file.v1.tar';
const TITLE = 'org.opencontainers.image.title';

const SnapshotManifestSchema = z.looseObject({
  schemaVersion: z.literal(2),
  config: OciDescriptorSchema.refine((d) => d.mediaType === SNAPSHOT_CONFIG, 'not a cocoon snapshot (config media type)'),
  layers: z.array(OciDescriptorSchema.and(z.looseObject({ mediaType: z.literal(SNAPSHOT_FILE), annotations: z.looseObject({ [TITLE]: z.string() }) }))),
});

/** How to reach a registry: credentials and plain HTTP, as cocoon-image pull takes them. */
export interface RegistryAccess {
  insecure: boolean;
  username?: string;
  password?: string;
  env: NodeJS.ProcessEnv;
}

function clientFor(ref: string, access: RegistryAccess, push: boolean): { client: RegistryClient; reference: ReturnType<typeof parseReference> } {
  const reference = parseReference(ref);
  const credentials = findCredentials(reference.registry, { username: access.username, password: access.password, env: access.env });
  return { client: new RegistryClient({ registry: reference.registry, repository: reference.repository, insecure: access.insecure, credentials, push }), reference };
}

/** What a push did. */
export interface PushResult {
  reference: string;
  digest: string;
  uploaded: number;
  skipped: number;
}

/** Pushes snapshot `snapshotRef` to `target` (`registry/repo[:tag]`). */
export async function pushSnapshot(layout: Layout, snapshotRef: string, target: string, access: RegistryAccess): Promise<PushResult> {
  const s = await findSnapshot(layout, snapshotRef);
  const { client, reference } = clientFor(target, access, true);
  if (reference.digest) throw new InvalidDataError(`${target}: push to a tag, not a digest`);
  const counts = { uploaded: 0, skipped: 0 };
  try {
    await client.ping();
    const config = manifestOf(s);
    const configDesc = { mediaType: SNAPSHOT_CONFIG, digest: sha256(config), size: config.length };
    await upload(client, configDesc.digest, config.length, () => config, counts);
    const layers = [];
    for (const f of s.files ?? []) layers.push(await pushFile(layout, client, s, f.name, f.size, counts));
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest, artifactType: SNAPSHOT_ARTIFACT, config: configDesc, layers, annotations: { 'org.opencontainers.image.created': s.created_at } }));
    await client.putManifest(reference.tag ?? 'latest', MEDIA_TYPES.ociManifest, manifest);
    return { reference: formatReference(reference), digest: sha256(manifest), ...counts };
  } finally {
    await client.close();
  }
}

/** Spools one file's layer (to learn its digest), then uploads it unless the registry has it. */
async function pushFile(layout: Layout, client: RegistryClient, s: SnapshotRecord, name: string, size: number, counts: { uploaded: number; skipped: number }) {
  // NOTE: an owner-named temp: SIGINT/SIGTERM remove it, and after a SIGKILL the next command sweeps it.
  const spool = tempPath(layout.tmp, 'push');
  try {
    const hash = createHash('sha256');
    const file = createWriteStream(spool, { flags: 'wx', mode: 0o600 });
    const tee = new Writable({
      write: (chunk: Buffer, _e, cb) => {
        hash.update(chunk);
        if (file.write(chunk)) cb();
        else file.once('drain', () => cb());
      },
      final: (cb) => file.end(() => cb()),
    });
    await exportFile(join(snapshotDir(layout, s.id), name), name, size, new Date(s.created_at), tee);
    const digest = `sha256:${hash.digest('hex')}`;
    const bytes = (await stat(spool)).size;
    await upload(client, digest, bytes, () => createReadStream(spool), counts);
    return { mediaType: SNAPSHOT_FILE, digest, size: bytes, annotations: { [TITLE]: name } };
  } finally {
    await rm(spool, { force: true });
  }
}

async function upload(client: RegistryClient, digest: string, size: number, body: () => Buffer | Readable, counts: { uploaded: number; skipped: number }): Promise<void> {
  if (await client.hasBlob(digest)) {
    counts.skipped++;
    return;
  }
  await client.putBlob(digest, size, body);
  counts.uploaded++;
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Pulls a snapshot pushed by `pushSnapshot` and imports it (a new ID; `req.name` or the pushed name). */
export async function pullSnapshot(layout: Layout, ref: string, req: ImportRequest, access: RegistryAccess): Promise<SnapshotRecord> {
  const { client, reference } = clientFor(ref, access, false);
  try {
    await client.ping();
    const res = await client.get(`manifests/${manifestSelector(reference)}`, { accept: MEDIA_TYPES.ociManifest });
    const raw = await readBody(res, 4 << 20, `manifest of ${ref}`);
    if (reference.digest && sha256(raw) !== reference.digest) throw new InvalidDataError(`${ref}: the manifest does not match its digest`);
    const parsed = SnapshotManifestSchema.safeParse(JSON.parse(raw.toString('utf8')));
    if (!parsed.success) throw new InvalidDataError(`${ref} is not a cocoon snapshot: ${parsed.error.issues[0]?.message}`);
    const manifest = parseManifest(await fetchSmallBlob(client, parsed.data.config, 4 << 20));
    return await importInto(layout, req, async (staging) => {
      await mkdir(staging, { mode: 0o700 });
      const writer = new ArchiveWriter(staging, manifest);
      for (const layer of parsed.data.layers) {
        await streamBlob(client, layer, (body) => extractLayer(body, writer, layer.annotations[TITLE]), { stats: { bytes: 0 } });
      }
      return writer.finish();
    });
  } finally {
    await client.close();
  }
}

/** A layer is a one-entry tar of the file its title names. */
async function extractLayer(body: Readable, writer: ArchiveWriter, title: string): Promise<void> {
  const extract = tar.extract();
  const through = body.pipe(new PassThrough());
  through.pipe(extract);
  let entries = 0;
  try {
    for await (const entry of extract) {
      if (++entries > 1) throw new InvalidDataError(`layer "${title}" holds more than one file`);
      await writer.entry(entry);
    }
  } catch (err) {
    extract.destroy();
    throw asInvalid(err);
  }
  if (entries === 0) throw new InvalidDataError(`layer "${title}" is empty`);
}
