import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from './errors.ts';
import { formatSize, parseSize } from './units.ts';

describe('parseSize', () => {
  it('parses binary units', () => {
    assert.equal(parseSize('512M', '--memory'), 512 * 2 ** 20);
    assert.equal(parseSize('10G', '--storage'), 10 * 2 ** 30);
    assert.equal(parseSize('1.5GiB', '--storage'), 1.5 * 2 ** 30);
    assert.equal(parseSize('2048', '--x'), 2048);
  });
  it('rejects unknown units naming the flag', () => assert.throws(() => parseSize('12Q', '--memory'), /--memory: invalid size "12Q"/));
  it('rejects sizes under the minimum with a hint', () => {
    assert.throws(() => parseSize('512', '--memory', 64 * 2 ** 20), (e: unknown) => e instanceof UsageError && /did you mean 512M/.test(e.message));
  });
  it('formats sizes', () => assert.deepEqual([formatSize(512 * 2 ** 20), formatSize(10 * 2 ** 30), formatSize(3)], ['512M', '10G', '3B']));
});
