/**
 * The operations issue's crash campaign as a hook of the kill campaign (kill-campaign.ts):
 * after every kill, `cocoon gc` runs and the store must be whole and clean before the same
 * command runs again:
 * - every index parses with its schema;
 * - no referenced blob is missing (an image's layer disks and kernel, a VM's disks, a
 *   complete snapshot's files and the layers it pins);
 * - nothing is left that the GC should have taken: no `creating` record, no run, log or lock
 *   file without a VM record, no temp file, no store file no record uses, no network record
 *   without a VM, no process of the store that no VM owns.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { NetRecordSchema } from '@cocoon/common/schemas/net';
import { ErofsLayoutSchema, ImageRecordSchema } from '@cocoon/common/schemas/image';
import { SnapshotRecordSchema, type SnapshotRecord } from '@cocoon/common/schemas/snapshot';
import { VmRecordSchema, type VmRecord } from '@cocoon/common/schemas/vm';
import { runCocoon, unownedProcesses, type CampaignEnv, type CampaignHooks } from './kill-campaign.ts';

const FileOf = <T extends z.ZodType>(item: T) => z.object({ version: z.number(), items: z.record(z.string(), item) });

/** The records of an index file ([] when absent); a parse failure is a violation. */
function readIndex<T extends z.ZodType>(file: string, item: T, out: string[]): Array<z.infer<T>> {
  if (!existsSync(file)) return [];
  try {
    const doc = FileOf(item).safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (doc.success) return Object.values(doc.data.items);
    out.push(`${file} does not parse: ${doc.error.issues[0]?.message ?? 'invalid'}`);
  } catch (err) {
    out.push(`${file} is not JSON: ${(err as Error).message}`);
  }
  return [];
}

const ls = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);
const ID = /^[0-9a-f]{32}$/;

/** A layer's content is on disk in some layout: `<hex>.erofs`, `<hex>.<layout>.erofs` (dax, lz4hc) or a cloud `<hex>.qcow2`. */
const layerOnDisk = (blobs: string, hex: string) =>
  [...ErofsLayoutSchema.options.map((e) => `${hex}${e === 'plain' ? '' : `.${e}`}.erofs`), `${hex}.qcow2`].some((f) => existsSync(join(blobs, f)));

/** Image layers and VM disks that must exist; the store files they use (hex digests). */
function referenced(root: string, images: Array<z.infer<typeof ImageRecordSchema>>, vms: VmRecord[], out: string[]): Set<string> {
  const blobs = join(root, 'images', 'blobs', 'sha256');
  const used = new Set<string>();
  for (const img of images) {
    for (const l of img.layers) {
      const hex = l.digest.slice(7);
      used.add(hex);
      if (!layerOnDisk(blobs, hex)) out.push(`image ${img.name}: layer ${hex.slice(0, 12)} has no disk`);
    }
    if (img.boot && !existsSync(join(root, 'images', 'boot', img.boot.layer.slice(7), img.boot.kernel))) out.push(`image ${img.name}: kernel missing`);
  }
  for (const vm of vms) {
    if (vm.state === 'creating') out.push(`VM ${vm.config.name} left in creating`);
    // A `vm rm` killed after it removed the run dir leaves the record for the retry to finish
    // (the record goes last); any other VM's disks must all be there.
    const removing = !existsSync(dirname(vm.storage_configs.find((d) => !d.path.startsWith(blobs))?.path ?? root));
    for (const d of vm.storage_configs) {
      if (!removing && !existsSync(d.path)) out.push(`VM ${vm.config.name}: disk ${d.path} missing`);
      if (d.path.startsWith(blobs)) used.add(d.path.slice(blobs.length + 1, blobs.length + 65));
    }
  }
  return used;
}

/**
 * A complete snapshot's files and pinned layers must exist (they hold their layers for gc:
 * `used`). A pending one (a save or import that was killed) is its tool's to finish: the
 * save's guard or the next cocoon-snap command removes it, and gc after 24 h.
 */
function snapshotRefs(root: string, snaps: SnapshotRecord[], used: Set<string>, out: string[]): void {
  const blobs = join(root, 'images', 'blobs', 'sha256');
  for (const s of snaps) {
    const pinned = [...Object.keys(s.image_blob_ids ?? {}), ...(s.machine?.disks.flatMap((d) => (d.blob ? [d.blob] : [])) ?? [])];
    for (const hex of pinned) used.add(hex);
    if (s.pending) continue;
    for (const f of s.files ?? []) if (!existsSync(join(root, 'snapshots', s.id, f.name))) out.push(`snapshot ${s.name}: file ${f.name} missing`);
    for (const hex of pinned) if (!layerOnDisk(blobs, hex)) out.push(`snapshot ${s.name}: layer ${hex.slice(0, 12)} missing`);
  }
}

/** Everything that must hold after a kill and a `cocoon gc`. */
export async function gcViolations(c: CampaignEnv): Promise<string[]> {
  const { COCOON_ROOT_DIR: root, COCOON_RUN_DIR: run, COCOON_LOG_DIR: log } = c.env;
  const out: string[] = [];
  const vms: VmRecord[] = readIndex(join(root, 'vms', 'index.json'), VmRecordSchema, out);
  const images = readIndex(join(root, 'images', 'index.json'), ImageRecordSchema, out);
  const nets = readIndex(join(root, 'networks', 'index.json'), NetRecordSchema, out);
  const ids = new Set(vms.map((v) => v.id));
  const used = referenced(root, images, vms, out);
  snapshotRefs(root, readIndex(join(root, 'snapshots', 'index.json'), SnapshotRecordSchema, out), used, out);
  for (const name of ls(join(root, 'images', 'blobs', 'sha256'))) if (!used.has(name.slice(0, 64))) out.push(`store file ${name} that nothing uses`);
  for (const name of ls(join(root, 'images', 'boot'))) if (!used.has(name)) out.push(`boot dir ${name} that nothing uses`);
  // Per-VM dirs are this root's when they carry its mark (cocoon-root), as gc judges them.
  const ours = (dir: string) => existsSync(join(dir, 'cocoon-root')) && readFileSync(join(dir, 'cocoon-root'), 'utf8').trim() === root;
  for (const d of ls(run)) if (ID.test(d) && !ids.has(d) && ours(join(run, d))) out.push(`run dir ${d} without a record`);
  for (const d of ls(log)) if (ID.test(d) && !ids.has(d) && ours(join(log, d))) out.push(`log dir ${d} without a record`);
  for (const f of ls(join(root, 'locks', 'vms'))) if (!ids.has(f.slice(0, 32))) out.push(`lock file ${f} without a record`);
  for (const n of nets) if (!ids.has(n.id)) out.push(`network of VM ${n.id.slice(0, 12)} without a VM record`);
  for (const t of ls(join(root, 'tmp'))) out.push(`temp entry tmp/${t}`);
  for (const dir of ['images', 'vms', 'networks', 'snapshots', 'images/blobs/sha256']) {
    for (const t of ls(join(root, dir))) if (/\.tmp-/.test(t)) out.push(`half-written file ${dir}/${t}`);
  }
  return [...out, ...(await unownedProcesses(c))];
}

/** The hook: `cocoon gc` after each kill, then `gcViolations`; counts what gc removed. */
export function gcAfterKill(tally: { removed: number }): CampaignHooks {
  return {
    async afterKill(c) {
      const gc = await runCocoon(c, ['gc', '--format', 'json']);
      if (gc.code !== 0) return [`cocoon gc failed (exit ${gc.code}): ${gc.stderr.trim()}`];
      tally.removed += (JSON.parse(gc.stdout) as { removed: unknown[] }).removed.length;
      return gcViolations(c);
    },
  };
}
