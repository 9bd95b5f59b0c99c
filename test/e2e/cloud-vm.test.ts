/**
 * A VM from a cloud image: the stored qcow2 becomes the backing file of a per-VM overlay
 * grown to --storage; it boots through OVMF (UEFI) with a NoCloud CIDATA seed that is
 * attached on the first boot only. The image here is an empty qcow2: the disks and the seed
 * are checked with qemu-img, mtools and cloud-init without booting. A real cloud-init guest
 * boots in cloud-init-guest.test.ts.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { z } from 'zod';
import { VmInspectSchema } from '@cocoon/common/schemas/vm';
import { QemuImgInfoSchema } from '@cocoon/common/schemas/qemu-img';
import { cocoon, ok, requireTools } from '../helpers/cocoon.ts';

const scratch = mkdtempSync(join(tmpdir(), 'cocoon-cloud-vm-'));
const image = `cloud-e2e-${process.pid}`;
const Inspect = VmInspectSchema.extend({ runtime: VmInspectSchema.shape.runtime.extend({ rootDisk: z.string(), seedDisk: z.string(), uefiVars: z.string() }) });
const info = async (file: string) => QemuImgInfoSchema.parse(JSON.parse((await execa('qemu-img', ['info', '--output=json', file])).stdout));

describe('VM from a cloud image', () => {
  before(async () => {
    requireTools();
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', join(scratch, 'base.qcow2'), '1G']);
    await ok(['image', 'import', image, join(scratch, 'base.qcow2')]);
  });
  after(async () => {
    await cocoon(['image', 'rm', '--force', image]);
    rmSync(scratch, { recursive: true, force: true });
  });

  it('makes a qcow2 overlay on the stored image, never smaller than the image', async () => {
    const big = Inspect.parse(JSON.parse(await ok(['vm', 'create', '--nics', '0', '--name', 'cloud-big', '--storage', '2G', '--format', 'json', image]).then(() => ok(['vm', 'inspect', 'cloud-big']))));
    const overlay = await info(big.runtime.rootDisk);
    assert.equal(overlay.format, 'qcow2');
    assert.equal(overlay['virtual-size'], 2 * 2 ** 30);
    assert.match(overlay['backing-filename'] ?? '', /images\/blobs\/sha256\/[0-9a-f]{64}\.qcow2$/);
    const small = Inspect.parse(JSON.parse(await ok(['vm', 'create', '--nics', '0', '--name', 'cloud-small', '--storage', '256M', image]).then(() => ok(['vm', 'inspect', 'cloud-small']))));
    assert.equal((await info(small.runtime.rootDisk))['virtual-size'], 2 ** 30, 'not shrunk below the image');
    assert.equal(small.config.storage, 2 ** 30, 'the record says the real size');
    await ok(['vm', 'rm', 'cloud-small']);
  });

  it('writes a NoCloud seed that cloud-init accepts', async () => {
    const vm = Inspect.parse(JSON.parse(await ok(['vm', 'inspect', 'cloud-big'])));
    const label = await execa('mlabel', ['-s', '-i', vm.runtime.seedDisk, '::']);
    assert.match(label.stdout, /CIDATA/);
    const meta = await execa('mtype', ['-i', vm.runtime.seedDisk, '::/meta-data']);
    assert.match(meta.stdout, new RegExp(`instance-id: ${vm.id}`));
    const userData = join(scratch, 'user-data');
    writeFileSync(userData, (await execa('mtype', ['-i', vm.runtime.seedDisk, '::/user-data'])).stdout);
    const schema = await execa('cloud-init', ['schema', '--config-file', userData], { reject: false });
    assert.equal(schema.exitCode, 0, `cloud-init schema: ${schema.stdout} ${schema.stderr}`);
  });

  it('attaches OVMF and the seed for the first boot, and rm removes its disks but not the image', async () => {
    // Booting a real cloud-init guest (and the seed's removal after the first boot) is cloud-init-guest.test.ts.
    const vm = Inspect.parse(JSON.parse(await ok(['vm', 'inspect', 'cloud-big'])));
    const argv = JSON.parse(await ok(['vm', 'debug', '--format', 'json', 'cloud-big'])) as string[];
    assert.ok(argv.some((a) => a.includes('if=pflash') && a.includes('OVMF_CODE')), 'UEFI firmware attached');
    assert.ok(argv.some((a) => a.includes('serial=cidata')), 'seed attached before the first boot');
    const base = (await info(vm.runtime.rootDisk))['backing-filename'] ?? '';
    await ok(['vm', 'rm', 'cloud-big']);
    assert.equal(existsSync(vm.runtime.runDir), false);
    assert.equal(existsSync(base), true, 'the stored image stays');
  });
});
