import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { testLaunchSpec } from '../../testing/launch-spec.ts';
import { qemuCommandLine } from './args.ts';

const dir = mkdtempSync(join(tmpdir(), 'cocoon-args-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const layer = join(dir, 'agent,layer.erofs');
writeFileSync(layer, '');
truncateSync(layer, 94 * 2 ** 20);

const spec = (pmem: boolean) =>
  testLaunchSpec({
    vsockCid: null,
    disks: [
      { path: '/s/l0.erofs', serial: 'cocoon-layer0', read_only: true, format: 'raw', role: 'layer', direct: false },
      { path: layer, serial: 'cocoon-layer1', read_only: true, format: 'raw', role: 'layer', direct: false, ...(pmem ? { pmem: true } : {}) },
    ],
  });

describe('QEMU pmem layers', () => {
  it('maps a pmem layer from its file, shared and read-only, with room for it above RAM', () => {
    const args = qemuCommandLine(spec(true)).args;
    const m = args[args.indexOf('-m') + 1];
    assert.equal(m, '512M,maxmem=606M');
    const joined = args.join(' ');
    assert.ok(joined.includes(`-object memory-backend-file,id=pmem1,mem-path=${layer.replace(',', ',,')},size=${94 * 2 ** 20},share=on,readonly=on`), joined);
    assert.match(joined, /-device virtio-pmem-pci,memdev=pmem1,id=pmemdev1/);
    assert.equal(joined.match(/virtio-blk-pci/g)?.length, 1, 'the pmem layer is not also a block device');
  });

  it('keeps plain RAM and block devices without pmem layers', () => {
    const args = qemuCommandLine(spec(false)).args;
    assert.equal(args[args.indexOf('-m') + 1], '512M');
    assert.doesNotMatch(args.join(' '), /virtio-pmem|memory-backend-file/);
    assert.equal(args.join(' ').match(/virtio-blk-pci/g)?.length, 2);
  });
});
