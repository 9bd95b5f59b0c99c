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
  it('parses byte counts and Kubernetes quantities as vk-cocoon passes them', () => {
    assert.equal(parseSize('268435456', '--memory'), 256 * 2 ** 20);
    assert.equal(parseSize('256Mi', '--memory'), 256 * 2 ** 20);
    assert.equal(parseSize('20Gi', '--storage'), 20 * 2 ** 30);
    assert.equal(parseSize('1Ti', '--storage'), 2 ** 40);
    assert.equal(parseSize('2gb', '--storage'), 2 * 2 ** 30);
  });
  it('rejects Kubernetes decimal-exponent and unknown suffixes, and absurd sizes', () => {
    for (const bad of ['12Qi', '1e9', '5Ei', '-1', '', 'M']) assert.throws(() => parseSize(bad, '--memory'), UsageError, bad);
    assert.throws(() => parseSize('99999999T', '--memory'), /above the maximum/);
    assert.throws(() => parseSize('3G', '--memory', 0, 2 ** 31), /--memory: 3G is above the maximum of 2G/);
  });
  it('rejects unknown units naming the flag', () => assert.throws(() => parseSize('12Q', '--memory'), /--memory: invalid size "12Q"/));
  it('rejects sizes under the minimum with a hint', () => {
    assert.throws(() => parseSize('512', '--memory', 64 * 2 ** 20), (e: unknown) => e instanceof UsageError && /did you mean 512M/.test(e.message));
  });
  it('formats sizes', () => assert.deepEqual([formatSize(512 * 2 ** 20), formatSize(10 * 2 ** 30), formatSize(3)], ['512M', '10G', '3B']));
});
