/** `cocoon-image import` of disk images: qcow2 and raw from files, split parts or stdin, gzip or not; wrong files refused. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { run } from '@cocoon/common/exec';
import { ExitCode } from '@cocoon/common/errors';
import { ImageRecordSchema } from '@cocoon/common/schemas/image';
import { runInProcess } from '@cocoon/common/testing/cli';
import { cli } from '../src/cli.ts';

const work = mkdtempSync(join(tmpdir(), 'cocoon-import-disk-'));
const f = (name: string) => join(work, name);

async function image(root: string, argv: string[], stdinData?: Buffer) {
  return runInProcess(cli, 'cocoon-image', argv, { COCOON_ROOT_DIR: root, COCOON_LOG_DIR: join(root, 'log') }, stdinData);
}

/** Every file of a store (minus logs and locks), for "unchanged" checks. */
function storeFiles(root: string): string[] {
  const dirs = [join(root, 'images'), join(root, 'tmp')].filter((d) => existsSync(d));
  return dirs.flatMap((d) => readdirSync(d, { recursive: true, encoding: 'utf8' }).map((p) => join(d, p))).sort();
}

/** The stored disk of a record and what qemu-img says about it. */
async function storedDisk(root: string, stdout: string): Promise<{ format: string; size: number; path: string }> {
  const rec = ImageRecordSchema.parse(JSON.parse(stdout));
  assert.equal(rec.kind, 'cloud');
  const path = join(root, 'images', 'blobs', 'sha256', `${rec.layers[0]?.digest.slice(7)}.qcow2`);
  const info = JSON.parse((await run('qemu-img', ['info', '--output', 'json', '-f', 'qcow2', path])).stdout) as { format: string; 'virtual-size': number };
  return { format: info.format, size: info['virtual-size'], path };
}

before(async () => {
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'compat=1.1', f('v3.qcow2'), '32M']);
  // A raw disk with content (an MBR boot signature, as every partitioned disk has), split in
  // two parts of unequal size (split -b style).
  const raw = Buffer.alloc(3 << 20);
  raw.writeUInt16BE(0x55aa, 510);
  raw.write('cocoon raw disk', 1 << 20);
  writeFileSync(f('raw.part1'), raw.subarray(0, 1 << 20));
  writeFileSync(f('raw.part2'), raw.subarray(1 << 20));
  writeFileSync(f('raw.whole'), raw);
  // A bare filesystem: a disk, but nothing in its first sectors says so.
  await run('mke2fs', ['-q', '-F', '-t', 'ext4', f('bare.ext4'), '8M']);
  // A qcow2 with data, then cut after its header (a broken download) and with a damaged refcount table.
  await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', f('raw.whole'), f('data.qcow2')]);
  writeFileSync(f('cut.qcow2'), readFileSync(f('data.qcow2')).subarray(0, 300));
  const damaged = readFileSync(f('data.qcow2'));
  // The refcount table offset (header bytes 48-55) pointed into the middle of nowhere.
  damaged.writeBigUInt64BE(BigInt(damaged.length + 2 ** 30), 48);
  writeFileSync(f('damaged.qcow2'), damaged);
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', f('huge.qcow2'), '17T']);
});
after(() => rmSync(work, { recursive: true, force: true }));

describe('cocoon-image import of qcow2 and raw disks', () => {
  it('imports a qcow2 file as is (content-addressed, read-only)', async () => {
    const root = mkdtempSync(join(work, 'root-'));
    const r = await image(root, ['import', 'disk:qcow2', f('v3.qcow2')]);
    assert.equal(r.code, 0, r.stderr);
    const disk = await storedDisk(root, r.stdout);
    assert.deepEqual([disk.format, disk.size], ['qcow2', 32 << 20]);
    // compat 1.1 already: stored byte for byte, named by its hash.
    assert.equal(createHash('sha256').update(readFileSync(disk.path)).digest('hex'), createHash('sha256').update(readFileSync(f('v3.qcow2'))).digest('hex'));
    assert.deepEqual(readdirSync(join(root, 'tmp')), []);
  });

  it('imports a gzip-wrapped qcow2 from stdin', async () => {
    const root = mkdtempSync(join(work, 'root-'));
    const r = await image(root, ['import', 'disk:gz', '-'], gzipSync(readFileSync(f('v3.qcow2'))));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await storedDisk(root, r.stdout).then((d) => [d.format, d.size]), ['qcow2', 32 << 20]);
  });

  it('imports a raw disk split into two parts, concatenated in order, as qcow2', async () => {
    const root = mkdtempSync(join(work, 'root-'));
    const r = await image(root, ['import', 'disk:raw', f('raw.part1'), f('raw.part2')]);
    assert.equal(r.code, 0, r.stderr);
    const disk = await storedDisk(root, r.stdout);
    assert.deepEqual([disk.format, disk.size], ['qcow2', 3 << 20]);
    // Same content as the whole raw file: qemu-img compare exits 0 on identical images.
    await run('qemu-img', ['compare', '-q', '-f', 'qcow2', '-F', 'raw', disk.path, f('raw.whole')]);
    const rec = ImageRecordSchema.parse(JSON.parse(r.stdout));
    assert.equal(rec.digest, `sha256:${createHash('sha256').update(readFileSync(f('raw.whole'))).digest('hex')}`);
  });

  it('refuses a truncated or damaged qcow2 and an absurd virtual size (exit 9), the store unchanged', async () => {
    const root = mkdtempSync(join(work, 'root-'));
    const cases: Array<[string, RegExp]> = [
      ['cut.qcow2', /damaged or truncated qcow2|not a disk image qemu-img can read/],
      ['damaged.qcow2', /damaged or truncated qcow2|not a disk image qemu-img can read/],
      ['huge.qcow2', /virtual size of 17T is more than the 16T/],
    ];
    for (const [name, why] of cases) {
      const r = await image(root, ['import', `bad:${name}`, f(name)]);
      assert.equal(r.code, ExitCode.InvalidData, `${name}: ${r.stderr}`);
      assert.match(r.stderr, why, name);
      assert.equal(r.stderr.trim().split('\n').length, 1);
      assert.deepEqual(storeFiles(root), [], name);
    }
  });

  it('takes raw bytes without a partition table for a disk only with --disk-format raw', async () => {
    const root = mkdtempSync(join(work, 'root-'));
    const refused = await image(root, ['import', 'bare', f('bare.ext4')]);
    assert.equal(refused.code, ExitCode.InvalidData, refused.stderr);
    assert.match(refused.stderr, /no MBR or GPT partition table.*--disk-format raw/);
    assert.deepEqual(storeFiles(root), []);
    const said = await image(root, ['import', '--disk-format', 'raw', 'bare', f('bare.ext4')]);
    assert.equal(said.code, 0, said.stderr);
    assert.deepEqual(await storedDisk(root, said.stdout).then((d) => [d.format, d.size]), ['qcow2', 8 << 20]);
    assert.equal((await image(root, ['import', '--disk-format', 'vmdk', 'x', f('bare.ext4')])).code, ExitCode.Usage);
    const notQcow2 = await image(root, ['import', '--disk-format', 'qcow2', 'y', f('raw.whole')]);
    assert.equal(notQcow2.code, ExitCode.InvalidData, notQcow2.stderr);
  });

  it('refuses HTML, zip, xz, zstd and empty input with exit 9, the store unchanged', async () => {
    const root = mkdtempSync(join(work, 'root-'));
    assert.equal((await image(root, ['import', 'keep', f('v3.qcow2')])).code, 0);
    const before = storeFiles(root);
    const zstd = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(1020)]);
    const cases: Array<[string, Buffer, RegExp]> = [
      ['page.html', Buffer.from('<!DOCTYPE html><html><body>404</body></html>'), /HTML page/],
      ['disk.zip', Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(1020)]), /zip archive/],
      ['disk.xz', Buffer.concat([Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), Buffer.alloc(1018)]), /xz file/],
      ['layer.zst', zstd, /zstd file/],
      ['text.txt', Buffer.from('just text\n'.repeat(100)), /a text file/],
      ['odd.bin', Buffer.concat([Buffer.alloc(1000), Buffer.from('x')]), /not a whole number of 512-byte sectors/],
      ['empty.img', Buffer.alloc(0), /empty/],
    ];
    for (const [name, bytes, why] of cases) {
      writeFileSync(f(name), bytes);
      const r = await image(root, ['import', `bad:${name}`, f(name)]);
      assert.equal(r.code, ExitCode.InvalidData, `${name}: ${r.stderr}`);
      assert.match(r.stderr, why, name);
      assert.deepEqual(storeFiles(root), before, name);
    }
    const stdin = await image(root, ['import', 'bad:stdin', '-'], Buffer.alloc(0));
    assert.equal(stdin.code, ExitCode.InvalidData, stdin.stderr);
    assert.deepEqual(storeFiles(root), before);
  });
});
