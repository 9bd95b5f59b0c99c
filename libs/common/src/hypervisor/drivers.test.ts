import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExitCode } from '../errors.ts';
import { driverFor } from './drivers.ts';

describe('driverFor', () => {
  it('QEMU has a driver', () => assert.equal(driverFor('qemu').kind, 'qemu'));

  // NOTE: the Cloud Hypervisor and Firecracker drivers are being built (issue 12); when one
  // lands, its kind leaves this test.
  it('a kind this build has no driver for is a usage error naming the driver, not a missing host package', () => {
    for (const kind of ['cloud-hypervisor', 'firecracker'] as const) {
      assert.throws(() => driverFor(kind), (err: Error & { exitCode?: number }) => {
        assert.equal(err.exitCode, ExitCode.Usage);
        assert.match(err.message, new RegExp(`the ${kind} driver is not available on this build`));
        return true;
      });
    }
  });
});
