/**
 * Issue 3's proof of shape: an image laid out like the Go cocoon's published images
 * (kernel + initramfs under boot/ in its layers) pushed to a real registry, pulled by
 * `cocoon image pull`, boots to the readiness marker. The image is the default guest's
 * OCI tarball (`build-default --output`), pushed under the Go cocoon's name.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { ImageRecordSchema } from '@cocoon/common/schemas/image';
import { VmRecordSchema } from '@cocoon/common/schemas/vm';
import { z } from 'zod';
import { cocoon, ok, READY_MARKER, requireTools, waitForConsole } from '../helpers/cocoon.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';

const scratch = mkdtempSync(join(tmpdir(), 'cocoon-pull-boot-'));
let registry: TestRegistry;
let ref: string;

describe('pull a cocoon-shaped image from a registry and boot it', () => {
  before(async () => {
    requireTools();
    registry = await startRegistry();
    const tarball = join(scratch, 'guest.oci.tar');
    await ok(['image', 'build-default', '--output', tarball], { timeoutMs: 900_000 });
    ref = `${registry.host}/cocoonstack/cocoon/ubuntu:24.04`;
    await execa('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci-archive:${tarball}`, `docker://${ref}`]);
  });
  after(async () => {
    await cocoon(['vm', 'rm', '--force', 'pulled']);
    await cocoon(['image', 'rm', '--force', ref]);
    await registry?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('pulls a record with kernel and initrd, and boots it', async () => {
    const pulled = z.array(ImageRecordSchema.loose()).parse(JSON.parse(await ok(['image', 'pull', '--format', 'json', ref])));
    const image = pulled[0];
    assert.ok(image?.boot?.kernel.startsWith('vmlinuz'), 'kernel found in the layers');
    assert.ok(image?.boot?.initrd?.startsWith('initrd.img'), 'initrd found in the layers');
    await ok(['vm', 'run', '--name', 'pulled', '--cpu', '1', '--memory', '512M', '--storage', '1G', ref]);
    const vm = VmRecordSchema.extend({ runtime: z.object({ consoleSocket: z.string() }).loose() }).parse(JSON.parse(await ok(['vm', 'inspect', 'pulled'])));
    assert.equal(vm.image.digest, image?.digest);
    await waitForConsole(vm.runtime.consoleSocket, READY_MARKER, 180_000);
    await ok(['vm', 'stop', '--timeout', '60', 'pulled']);
  });
});
