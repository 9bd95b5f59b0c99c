import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseAccel, type AccelProbe } from './accel.ts';

const probe = (kvmUsable: boolean, pvmHost: boolean): AccelProbe => ({ kvmUsable: () => kvmUsable, pvmHost: () => pvmHost });

describe('chooseAccel', () => {
  it('auto: KVM where it runs a stock guest, else TCG with a warning saying why', () => {
    assert.deepEqual(chooseAccel('auto', probe(true, false)), { accel: 'kvm', warning: null });
    const pvm = chooseAccel('auto', probe(true, true));
    assert.equal(pvm.accel, 'tcg');
    assert.match(pvm.warning ?? '', /PVM module/);
    const none = chooseAccel('auto', probe(false, false));
    assert.equal(none.accel, 'tcg');
    assert.match(none.warning ?? '', /\/dev\/kvm is missing or not usable/);
  });

  it('kvm is taken as asked where /dev/kvm works (a PVM guest kernel), refused where it does not', () => {
    assert.deepEqual(chooseAccel('kvm', probe(true, true)), { accel: 'kvm', warning: null });
    assert.throws(() => chooseAccel('kvm', probe(false, false)), { exitCode: 2 });
  });

  it('tcg needs nothing', () => assert.deepEqual(chooseAccel('tcg', probe(false, false)), { accel: 'tcg', warning: null }));
});
