/**
 * Export/import without a VM: a snapshot directory made here (a sparse disk and a state
 * file), exported through the CLI, restored by real GNU tar, imported back, and hostile or
 * broken archives (traversal, absolute names, symlinks, hardlinks, devices, truncation, bad
 * digests) refused with nothing left behind. The Go cocoon's format is written here from
 * its documented shape (GO-COCOON-CONTRACT.md: version 1 manifest, COCOON.sparse keys).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import tar from 'tar-stream';
import { layoutOf } from '@cocoon/common/layout';
import { SnapshotRecordSchema, type SnapshotRecord } from '@cocoon/common/schemas/snapshot';
import { digestFile } from '@cocoon/common/snapshots/sparse';
import { snapshotDir, snapshotIndex } from '@cocoon/common/snapshots/store';
import { assertDocumented, runInProcess } from '@cocoon/common/testing/cli';
import { cli } from '../src/cli.ts';

const root = mkdtempSync(join(tmpdir(), 'cocoon-snap-archive-'));
const env = { COCOON_ROOT_DIR: join(root, 'store'), COCOON_RUN_DIR: join(root, 'run'), COCOON_LOG_DIR: join(root, 'log') };
const layout = layoutOf({ root_dir: env.COCOON_ROOT_DIR, run_dir: env.COCOON_RUN_DIR, log_dir: env.COCOON_LOG_DIR });
const MiB = 2 ** 20;
after(() => rmSync(root, { recursive: true, force: true }));

function snap(argv: string[], stdin?: Buffer) {
  return runInProcess(cli, 'cocoon-snap', argv, env, stdin);
}

/** A 64 MiB disk with 3 data runs (one at the very end) and a dense state file. */
function writeFixtureFiles(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const disk = join(dir, 'cow.raw');
  writeFileSync(disk, '');
  truncateSync(disk, 64 * MiB);
  const fd = openSync(disk, 'r+');
  writeSync(fd, Buffer.alloc(4096, 0xab), 0, 4096, 0);
  writeSync(fd, Buffer.alloc(8192, 0xcd), 0, 8192, 32 * MiB);
  writeSync(fd, Buffer.from('the end'), 0, 7, 64 * MiB - 7);
  closeSync(fd);
  writeFileSync(join(dir, 'vmstate.qemu'), Buffer.alloc(300_000, 7));
}

/** Registers a complete snapshot `name` with the fixture files. */
async function fixtureSnapshot(name: string): Promise<SnapshotRecord> {
  const id = `${name.padEnd(8, '0').slice(0, 8).replace(/[^0-9a-f]/g, 'a')}${'0'.repeat(24)}`;
  const dir = snapshotDir(layout, id);
  writeFixtureFiles(dir);
  const files = await Promise.all(['cow.raw', 'vmstate.qemu'].map(async (f) => ({ name: f, ...(await digestFile(join(dir, f))) })));
  const record = SnapshotRecordSchema.parse({
    cpu: 1, memory: 256 * MiB, storage: 64 * MiB, image: 'default', image_digest: `sha256:${'1'.repeat(64)}`, image_type: 'oci',
    id, name, hypervisor: 'qemu', nics: 0, created_at: new Date().toISOString(), files,
  });
  await snapshotIndex(layout).update((items) => void items.set(id, record));
  return record;
}

/** A tar built with tar-stream from raw entries (headers as given). */
async function makeTar(entries: Array<{ header: Partial<tar.Header> & { name: string }; body?: Buffer }>): Promise<Buffer> {
  const pack = tar.pack();
  const parts: Buffer[] = [];
  pack.on('data', (d: unknown) => void parts.push(d as Buffer));
  const ended = new Promise<void>((r) => pack.on('end', () => r()));
  for (const e of entries) pack.entry(e.header as tar.Header, e.body ?? Buffer.alloc(0));
  pack.finalize();
  await ended;
  return Buffer.concat(parts);
}

function storeEntries(): string[] {
  return existsSync(layout.snapshots.dir) ? readdirSync(layout.snapshots.dir).sort() : [];
}

describe('cocoon-snap export/import', () => {
  let base: SnapshotRecord;
  let exported: Buffer;
  before(async () => {
    base = await fixtureSnapshot('base');
  });

  it('documents every command', () => assertDocumented(cli));

  it('exports the manifest first and sparse files as GNU sparse 1.0: GNU tar restores them bit-identical and sparse', async () => {
    const file = join(root, 'base.tar');
    const r = await snap(['export', 'base', '-o', file]);
    assert.equal(r.code, 0, r.stderr);
    exported = readFileSync(file);
    // Archive ≈ the data, not the 64 MiB apparent size.
    assert.ok(exported.length < 400_000 + 64 * 1024, `archive is ${exported.length} bytes`);
    const listing = execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).trim().split('\n');
    assert.deepEqual(listing, ['snapshot.json', 'cow.raw', 'vmstate.qemu']);
    const out = join(root, 'gnu');
    mkdirSync(out);
    execFileSync('tar', ['-C', out, '-xf', file]);
    const dir = snapshotDir(layout, base.id);
    execFileSync('cmp', [join(out, 'cow.raw'), join(dir, 'cow.raw')]);
    execFileSync('cmp', [join(out, 'vmstate.qemu'), join(dir, 'vmstate.qemu')]);
    assert.ok(statSync(join(out, 'cow.raw')).blocks * 512 < MiB, 'the restored disk is still sparse');
    const manifest = JSON.parse(readFileSync(join(out, 'snapshot.json'), 'utf8')) as { version: number; config: SnapshotRecord };
    assert.equal(manifest.version, 2);
    assert.deepEqual(manifest.config.files, base.files);
  });

  it('imports its own export from stdin (gzip too) under a new name and ID, files identical', async () => {
    const r = await snap(['import', '--name', 'copy', '--description', 'from stdin', '-o', 'json'], exported);
    assert.equal(r.code, 0, r.stderr);
    const rec = SnapshotRecordSchema.parse(JSON.parse(r.stdout));
    assert.notEqual(rec.id, base.id);
    assert.equal(rec.name, 'copy');
    assert.equal(rec.description, 'from stdin');
    assert.deepEqual(rec.files, base.files);
    execFileSync('cmp', [join(snapshotDir(layout, rec.id), 'cow.raw'), join(snapshotDir(layout, base.id), 'cow.raw')]);
    const gz = join(root, 'base.tar.gz');
    assert.equal((await snap(['export', '--gzip', 'base', '-o', gz])).code, 0);
    const fromGz = await snap(['import', '--name', 'copy-gz', gz]);
    assert.equal(fromGz.code, 0, fromGz.stderr);
    const taken = await snap(['import', '--name', 'copy'], exported);
    assert.equal(taken.code, 4);
    assert.match(taken.stderr, /snapshot name "copy" already exists/);
  });

  it('reads the Go cocoon\'s version 1 archives (COCOON.sparse keys)', async () => {
    const data = Buffer.concat([Buffer.alloc(4096, 1), Buffer.alloc(4096, 2)]);
    const manifest = Buffer.from(`${JSON.stringify({ config: { cpu: 2, memory: 1073741824, storage: 10737418240, image: 'ghcr.io/cocoonstack/cocoon/ubuntu:24.04', image_digest: `sha256:${'2'.repeat(64)}`, image_type: 'oci', id: 'f'.repeat(32), name: 'go-snap', image_blob_ids: { ['3'.repeat(64)]: {} }, hypervisor: 'cloud-hypervisor', nics: 1 }, version: 1 }, null, 2)}\n`);
    const archive = await makeTar([
      { header: { name: 'snapshot.json', size: manifest.length }, body: manifest },
      { header: { name: 'config.json', size: 2 }, body: Buffer.from('{}') },
      { header: { name: 'cow.raw', size: data.length, pax: { 'COCOON.sparse.map': '[{"o":0,"l":4096},{"o":33554432,"l":4096}]', 'COCOON.sparse.size': String(64 * MiB) } }, body: data },
    ]);
    const r = await snap(['import', '-o', 'json'], archive);
    assert.equal(r.code, 0, r.stderr);
    const rec = SnapshotRecordSchema.parse(JSON.parse(r.stdout));
    assert.equal(rec.name, 'go-snap');
    assert.equal(rec.hypervisor, 'cloud-hypervisor');
    const disk = readFileSync(join(snapshotDir(layout, rec.id), 'cow.raw'));
    assert.equal(disk.length, 64 * MiB);
    assert.ok(disk.subarray(0, 4096).every((b) => b === 1));
    assert.ok(disk.subarray(33554432, 33554432 + 4096).every((b) => b === 2));
    assert.ok(disk.subarray(4096, 33554432).every((b) => b === 0));
  });

  const hostile: Array<[string, () => Promise<Buffer>, RegExp]> = [
    ['a ../ name', () => withManifest({ header: { name: '../escaped', size: 1 }, body: Buffer.from('x') }), /not a plain file name/],
    ['an absolute name', () => withManifest({ header: { name: '/tmp/escaped', size: 1 }, body: Buffer.from('x') }), /not a plain file name/],
    ['a name with a directory', () => withManifest({ header: { name: 'dir/escaped', size: 1 }, body: Buffer.from('x') }), /not a plain file name/],
    ['a symlink', () => withManifest({ header: { name: 'cow.raw', type: 'symlink', linkname: '/etc/passwd' } }), /is a symlink/],
    ['a hardlink', () => withManifest({ header: { name: 'cow.raw', type: 'link', linkname: 'snapshot.json' } }), /is a link/],
    ['a device', () => withManifest({ header: { name: 'cow.raw', type: 'character-device', devmajor: 1, devminor: 3 } }), /is a character-device/],
    ['a file the manifest does not list', () => withManifest({ header: { name: 'extra.bin', size: 1 }, body: Buffer.from('x') }), /not listed/],
    ['a truncated archive', async () => exported.subarray(0, 100_000), /not a complete snapshot archive|ended|incomplete/],
    ['a file whose digest does not match', async () => corrupt(exported), /does not match its size and digest/],
    ['an unknown version', async () => makeTar([{ header: { name: 'snapshot.json', size: 14 }, body: Buffer.from('{"version":9}\n') }]), /unsupported archive version 9/],
  ];
  for (const [what, make, message] of hostile) {
    it(`refuses ${what}, leaving nothing behind`, async () => {
      const before = storeEntries();
      const count = (await snapshotIndex(layout).list()).length;
      const r = await snap(['import', '--name', 'hostile'], await make());
      assert.equal(r.code, 9, r.stderr);
      assert.match(r.stderr, message);
      assert.deepEqual(storeEntries(), before, 'no staging dir or snapshot dir is left');
      assert.equal((await snapshotIndex(layout).list()).length, count, 'no record is left');
      assert.ok(!existsSync('/tmp/escaped'));
      assert.ok(!existsSync(join(layout.snapshots.dir, '..', 'escaped')));
    });
  }

  /** Our manifest for `base`, then `entry`. */
  async function withManifest(entry: { header: Partial<tar.Header> & { name: string }; body?: Buffer }): Promise<Buffer> {
    const manifest = Buffer.from(`${JSON.stringify({ version: 2, config: base })}\n`);
    return makeTar([{ header: { name: 'snapshot.json', size: manifest.length }, body: manifest }, entry]);
  }

  /** The export with one byte of the state file's data flipped. */
  function corrupt(archive: Buffer): Buffer {
    const copy = Buffer.from(archive);
    const at = copy.indexOf(Buffer.alloc(64, 7));
    copy[at + 10] = 8;
    return copy;
  }
});
