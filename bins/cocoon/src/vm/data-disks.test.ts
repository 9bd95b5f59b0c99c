import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { execa } from 'execa';
import { UsageError } from '@cocoon/common/errors';
import { createDataDisks, dataCmdline, dataDiskConfigs, parseDataDisks } from './data-disks.ts';

const dir = mkdtempSync(join(tmpdir(), 'cocoon-data-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('--data-disk', () => {
  it('fills the Go cocoon defaults: dataN names skipping taken ones, ext4, /mnt/<name>', () => {
    const specs = parseDataDisks(['size=1G', 'size=20G,name=data1', 'size=64M,fstype=none', 'size=1G,name=logs,mount=/var/log/app,directio=off']);
    assert.deepEqual(specs, [
      { name: 'data2', size: 2 ** 30, fstype: 'ext4', mount: '/mnt/data2' },
      { name: 'data1', size: 20 * 2 ** 30, fstype: 'ext4', mount: '/mnt/data1' },
      { name: 'data3', size: 64 * 2 ** 20, fstype: 'none', mount: '' },
      { name: 'logs', size: 2 ** 30, fstype: 'ext4', mount: '/var/log/app', directIo: false },
    ]);
  });

  it('refuses bad specs with a usage error', () => {
    for (const bad of [[''], ['size=8M'], ['name=x'], ['size=1G,name=Bad'], ['size=1G,name=cocoon-x'], ['size=1G,fstype=btrfs'], ['size=1G,directio=maybe'],
      ['size=1G,mount=/a b'], ['size=1G,mount=/a,b'], ['size=1G,mount=/'], ['size=1G,mount=/a/../b'], ['size=1G,oops'], ['size=1G,name=a', 'size=2G,name=a'],
      ['size=1G,name=database1', 'size=1G,name=database2']]) {
      assert.throws(() => parseDataDisks(bad), UsageError, JSON.stringify(bad));
    }
  });

  it('records them as role data with serial cocoon-data-<name>, and lists the mounted ones on the kernel command line', () => {
    const configs = dataDiskConfigs('/run/vm', parseDataDisks(['size=1G,name=logs', 'size=1G,name=raw,fstype=none', 'size=1G,name=db,directio=on']));
    assert.deepEqual(configs[0], { path: '/run/vm/data-logs.raw', ro: false, serial: 'cocoon-data-logs', role: 'data', mount_point: '/mnt/logs', fstype: 'ext4', format: 'raw' });
    assert.equal(configs[1]!.mount_point, undefined);
    assert.equal(configs[2]!.direct_io, true);
    assert.equal(dataCmdline(configs), 'cocoon.data=cocoon-data-logs:/mnt/logs:ext4,cocoon-data-db:/mnt/db:ext4');
    assert.equal(dataCmdline([]), null);
  });

  it('creates sparse files, ext4 (checked by e2fsck) unless fstype=none', async () => {
    const specs = parseDataDisks(['size=64M,name=fs', 'size=32M,name=bare,fstype=none']);
    const configs = dataDiskConfigs(dir, specs);
    await createDataDisks(specs, configs);
    const [fs, bare] = configs.map((c) => statSync(c.path));
    assert.equal(fs!.size, 64 * 2 ** 20);
    assert.ok(fs!.blocks * 512 < fs!.size / 2, 'sparse');
    assert.equal(fs!.mode & 0o777, 0o600);
    await execa('e2fsck', ['-n', '-f', configs[0]!.path]);
    assert.equal((await execa('blkid', ['-o', 'value', '-s', 'TYPE', configs[0]!.path])).stdout.trim(), 'ext4');
    assert.equal(bare!.blocks, 0, 'fstype=none stays all holes');
  });
});
