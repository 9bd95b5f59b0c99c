import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkHostLimits, diskTooBig, hostFacts, type HostFacts } from './limits.ts';

const GiB = 2 ** 30;
const host: HostFacts = { memoryBytes: () => 4 * GiB, filesystemBytes: () => 100 * GiB };

describe('host limits of vm create', () => {
  it('accepts up to the host memory and the filesystem size', () => {
    checkHostLimits({ memory: 4 * GiB, storage: 100 * GiB, runDir: '/x', force: false }, host);
  });

  it('refuses more memory than the host has, or a disk bigger than its filesystem, naming the flag', () => {
    assert.throws(() => checkHostLimits({ memory: 4 * GiB + 1, storage: GiB, runDir: '/x', force: false }, host), { exitCode: 2, message: /^--memory: 4\.0G is more than this host's 4G/ });
    assert.throws(() => checkHostLimits({ memory: GiB, storage: 101 * GiB, runDir: '/x', force: false }, host), { exitCode: 2, message: /^--storage: 101G is more than the 100G filesystem of \/x/ });
  });

  it('--force skips both', () => {
    checkHostLimits({ memory: 2 ** 50, storage: 2 ** 52, runDir: '/x', force: true }, host);
  });

  it('measures the filesystem of the nearest existing folder of a run dir not made yet', () => {
    assert.ok(hostFacts.filesystemBytes('/tmp/no/such/dir/yet') > 0);
  });

  it('turns EFBIG into a usage error and leaves other errors alone', () => {
    const efbig = Object.assign(new Error('file too large'), { code: 'EFBIG' });
    assert.equal((diskTooBig(efbig, 2 ** 50) as { exitCode: number }).exitCode, 2);
    const other = Object.assign(new Error('no space'), { code: 'ENOSPC' });
    assert.equal(diskTooBig(other, 1), other);
  });
});
