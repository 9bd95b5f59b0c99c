/**
 * Acceleration choice. `auto` uses KVM only where it can run a stock guest: /dev/kvm
 * must open read-write, and the host must not be a PVM host (`/sys/module/kvm_pvm`),
 * where stock kernels hang in the decompressor. Otherwise TCG, with a warning.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { UsageError } from '../errors.ts';
import type { Accel } from '../schemas/config.ts';

export interface AccelChoice {
  accel: 'kvm' | 'tcg';
  /** Why TCG was chosen under `auto`; shown to the user as a one-line warning. */
  warning: string | null;
}

/** Facts the choice depends on (injectable for tests). */
export interface AccelProbe {
  kvmUsable(): boolean;
  pvmHost(): boolean;
}

export const hostProbe: AccelProbe = {
  kvmUsable: () => {
    try {
      accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
      return true;
    } catch {
      return false;
    }
  },
  pvmHost: () => existsSync('/sys/module/kvm_pvm'),
};

/** Chooses KVM or TCG for `requested`. */
export function chooseAccel(requested: Accel, probe: AccelProbe = hostProbe): AccelChoice {
  if (requested === 'tcg') return { accel: 'tcg', warning: null };
  const usable = probe.kvmUsable();
  const pvm = usable && probe.pvmHost();
  if (requested === 'kvm') {
    if (!usable) throw new UsageError('--accel kvm: /dev/kvm is missing or not usable here; use --accel tcg or auto');
    return { accel: 'kvm', warning: null };
  }
  if (!usable) return { accel: 'tcg', warning: '/dev/kvm is missing or not usable: running under TCG (software emulation, slow)' };
  if (pvm) {
    return { accel: 'tcg', warning: 'KVM here is the PVM module, which hangs stock guest kernels: running under TCG (software emulation, slow); use --accel kvm for a PVM-enabled guest kernel' };
  }
  return { accel: 'kvm', warning: null };
}
