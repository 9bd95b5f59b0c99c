import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { assertDocumented, runInProcess } from '@cocoon/common/testing/cli';
import { ImageRecordSchema, ImageResolveSchema } from '@cocoon/common/schemas/image';
import { VmRecordSchema } from '@cocoon/common/schemas/vm';
import { VM_INDEX_VERSION } from '@cocoon/common/vms';
import { z } from 'zod';
import { cli } from '../src/cli.ts';
import { kernelLayer, makeTar, ociLayout, snapshot } from './import-fixtures.ts';

const root = mkdtempSync(join(tmpdir(), 'cocoon-image-cli-'));
after(() => rmSync(root, { recursive: true, force: true }));

async function image(argv: string[], stdinData?: Buffer): Promise<{ code: number; stdout: string; stderr: string }> {
  return runInProcess(cli, 'cocoon-image', argv, { COCOON_ROOT_DIR: join(root, 'store'), COCOON_LOG_DIR: join(root, 'log') }, stdinData);
}

describe('cocoon-image import/list/inspect/resolve/rm', () => {
  it('documents every command', () => assertDocumented(cli));

  it('imports, lists, inspects, resolves and removes', async () => {
    const tarball = join(root, 'img.tar');
    writeFileSync(tarball, await ociLayout([{ tar: await makeTar(kernelLayer('cli')), gzip: true }]));
    const imported = await image(['import', 'ghcr.io/a/b:tag', tarball]);
    assert.equal(imported.code, 0, imported.stderr);
    const rec = ImageRecordSchema.parse(JSON.parse(imported.stdout));
    assert.equal(rec.name, 'ghcr.io/a/b:tag');

    const fromStdin = await image(['import', 'default', '-'], await ociLayout([{ tar: await makeTar(kernelLayer('stdin')) }]));
    assert.equal(fromStdin.code, 0, fromStdin.stderr);

    const list = await image(['list', '--format', 'json']);
    assert.deepEqual(z.array(ImageRecordSchema).parse(JSON.parse(list.stdout)).map((i) => i.name), ['ghcr.io/a/b:tag', 'default']);
    const table = await image(['ls', '--format', 'table']);
    assert.match(table.stdout, /^NAME\s+ID\s+DIGEST\s+LAYERS\s+SIZE\s+CREATED\n/);
    assert.match(table.stdout, new RegExp(`ghcr.io/a/b:tag\\s+${rec.id.slice(0, 12)}\\s+${rec.digest.slice(7, 19)}\\s+1\\s+`));

    const inspect = await image(['inspect', rec.id.slice(0, 6)]);
    assert.deepEqual(ImageRecordSchema.parse(JSON.parse(inspect.stdout)), rec);

    const resolved = await image(['resolve', 'default', '--format', 'json']);
    assert.equal(resolved.code, 0, resolved.stderr);
    const res = ImageResolveSchema.parse(JSON.parse(resolved.stdout));
    assert.equal(res.name, 'default');
    assert.ok(res.kernel && existsSync(res.kernel) && res.disks.every((d) => existsSync(d.path)));

    const rm = await image(['rm', 'ghcr.io/a/b:tag']);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal((await image(['inspect', 'ghcr.io/a/b:tag'])).code, 3);
    assert.ok(res.disks.every((d) => existsSync(d.path)), 'the other image keeps its disks');
  });

  it('refuses to remove an image a VM uses, unless --force', async () => {
    const res = ImageResolveSchema.parse(JSON.parse((await image(['resolve', 'default'])).stdout));
    const now = new Date().toISOString();
    const vm = VmRecordSchema.parse({
      id: 'f'.repeat(32), hypervisor: 'qemu', state: 'stopped', accel: 'tcg',
      config: { name: 'vm1', cpu: 1, memory: 2 ** 28, storage: 2 ** 30, image: 'default', image_digest: res.digest, image_type: 'oci' },
      image_id: res.id, nics: 0, pid: 0, first_booted: false,
      boot: { kernel: res.kernel, initrd: res.initrd, firmware: null, cmdline: 'boot=cocoon-overlay' },
      storage_configs: res.disks.map((d) => ({ path: d.path, ro: d.read_only, serial: d.serial, role: 'layer', format: d.format })),
      created_at: now, updated_at: now,
    });
    mkdirSync(join(root, 'store', 'vms'), { recursive: true });
    writeFileSync(join(root, 'store', 'vms', 'index.json'), JSON.stringify({ version: VM_INDEX_VERSION, items: { [vm.id]: vm } }));
    const refused = await image(['rm', 'default']);
    assert.equal(refused.code, 5);
    assert.match(refused.stderr, /used by VM vm1/);
    const forced = await image(['rm', '--force', 'default']);
    assert.equal(forced.code, 0, forced.stderr);
    // The record is gone but the disk a VM still has attached stays.
    assert.ok(res.disks.every((d) => existsSync(d.path)));
    assert.equal((await image(['resolve', 'default'])).code, 3);
  });

  it('bad input: exit codes and one line on stderr, nothing left', async () => {
    const notImage = join(root, 'not-image');
    writeFileSync(notImage, 'just text\n'.repeat(100));
    const before = snapshot(join(root, 'store'));
    const cases: Array<[string[], number, RegExp]> = [
      [['import', 'x', notImage], 9, /not an image \(an OCI layout or docker-save tarball, or a qcow2 or raw disk\)/],
      [['import', 'bad name', notImage], 2, /invalid/],
      [['import', 'x', join(root, 'missing')], 3, /no such file/],
      [['import', 'x'], 2, /./],
      [['inspect', 'nope'], 3, /image not found: nope/],
      [['rm', 'nope'], 3, /not found/],
      [['list', '--format', 'yaml'], 2, /--format/],
    ];
    for (const [argv, code, text] of cases) {
      const r = await image(argv);
      assert.equal(r.code, code, `${argv.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, text);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.equal(r.stdout, '');
    }
    assert.deepEqual(snapshot(join(root, 'store')), before);
  });
});
