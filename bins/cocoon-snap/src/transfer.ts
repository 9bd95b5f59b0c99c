/**
 * Export and import as records see them: export reads a complete snapshot; import reserves
 * a pending record under a fresh ID (the name is taken from then on), extracts into a
 * staging directory, and completes the record once every file checked out.
 */
import { mkdir, rm } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { imageIndex } from '@cocoon/common/images/store';
import type { Layout } from '@cocoon/common/layout';
import { newId, validateVmName } from '@cocoon/common/refs';
import type { SnapshotArchiveManifest, SnapshotRecord } from '@cocoon/common/schemas/snapshot';
import { assertNameFree, findSnapshot, pendingByThisProcess, snapshotDir, snapshotIndex, stagingDir } from '@cocoon/common/snapshots/store';
import { exportSnapshot } from './archive/export.ts';
import { commitStaging, dropStaging, extractArchive, type Extracted } from './archive/import.ts';

/** Streams snapshot `ref` to `out`. */
export async function exportByRef(layout: Layout, ref: string, out: Writable, gzip: boolean): Promise<SnapshotRecord> {
  const s = await findSnapshot(layout, ref);
  await exportSnapshot(s, snapshotDir(layout, s.id), out, gzip);
  return s;
}

export interface ImportRequest {
  name?: string;
  description?: string;
}

/** Imports an archive from `input`; returns the new record. */
export function importArchive(layout: Layout, input: Readable, req: ImportRequest): Promise<SnapshotRecord> {
  return importInto(layout, req, (staging) => extractArchive(input, staging));
}

/**
 * Imports a snapshot whose files `fill` writes into a staging directory (an archive, a
 * registry pull): a pending record holds the name, the files are checked, then moved in.
 */
export async function importInto(layout: Layout, req: ImportRequest, fill: (staging: string) => Promise<Extracted>): Promise<SnapshotRecord> {
  if (req.name !== undefined) validateVmName(req.name);
  const id = newId();
  const staging = stagingDir(layout, id);
  const index = snapshotIndex(layout);
  await mkdir(layout.snapshots.dir, { recursive: true, mode: 0o700 });
  // NOTE: a pending record first, always: it holds the name, and it is what lets the recovery
  // of a killed import find (and remove) its staging directory.
  await reserve(layout, placeholder(id, req.name ?? `importing-${id.slice(0, 8)}`));
  try {
    const { manifest, files } = await fill(staging);
    const record = await toRecord(layout, id, manifest, files, req);
    await index.update((items) => assertNameFree(items, record.name, id));
    await commitStaging(staging, snapshotDir(layout, id));
    return await index.update((items) => {
      assertNameFree(items, record.name, id);
      items.set(id, record);
      return record;
    });
  } catch (err) {
    await dropStaging(staging);
    await rm(snapshotDir(layout, id), { recursive: true, force: true });
    await index.update((items) => void items.delete(id));
    throw err;
  }
}

async function reserve(layout: Layout, record: SnapshotRecord): Promise<void> {
  await snapshotIndex(layout).update((items) => {
    assertNameFree(items, record.name);
    items.set(record.id, record);
  });
}

/** A pending record holding a name until the archive is read. */
function placeholder(id: string, name: string): SnapshotRecord {
  return { id, name, cpu: 1, memory: 1, storage: 1, image: 'importing', image_digest: `sha256:${'0'.repeat(64)}`, image_type: 'oci', hypervisor: 'qemu', nics: 0, created_at: new Date().toISOString(), ...pendingByThisProcess() };
}

/** The imported record: the archive's config under a fresh ID, this host's image ID, the files as written. */
async function toRecord(layout: Layout, id: string, m: SnapshotArchiveManifest, files: SnapshotRecord['files'], req: ImportRequest): Promise<SnapshotRecord> {
  const c = m.config;
  const image = (await imageIndex(layout).list()).find((i) => i.digest === c.image_digest);
  const base = m.version === 2 ? { ...m.config } : { ...m.config, image_type: m.config.image_type ?? 'oci', nics: m.config.nics ?? 0, created_at: new Date().toISOString() };
  const { pending: _p, pending_pid: _pid, pending_start_time: _start, paused_by_save: _by, vm_id: _vm, image_id: _img, ...rest } = base as SnapshotRecord;
  const name = req.name ?? (typeof c.name === 'string' && c.name ? c.name : `import-${id.slice(0, 8)}`);
  validateVmName(name, 'the archive\'s snapshot name');
  return { ...rest, id, name, description: req.description ?? rest.description, image_id: image?.id, files };
}
