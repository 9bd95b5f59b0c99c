/** Driver selection: the VM's recorded kind, a flag, the config, or the best available. */
import { UsageError } from '../errors.ts';
import { HYPERVISORS, type HypervisorKind } from '../schemas/config.ts';
import type { Hypervisor } from './index.ts';
import { QemuDriver } from './qemu/index.ts';

/**
 * The driver for `kind`. A kind this build has no driver for is a usage error (the user
 * chose it), not a missing host dependency: nothing installed on the host would help.
 */
export function driverFor(kind: HypervisorKind): Hypervisor {
  if (kind === 'qemu') return new QemuDriver();
  throw new UsageError(`the ${kind} driver is not available on this build of cocoon; use --hypervisor qemu`);
}

/** Parses a `--hypervisor` value (`ch` and `fc` are accepted short names). */
export function parseHypervisor(value: string): HypervisorKind {
  const aliases: Record<string, HypervisorKind> = { ch: 'cloud-hypervisor', fc: 'firecracker' };
  const kind = aliases[value] ?? value;
  if (!(HYPERVISORS as readonly string[]).includes(kind)) {
    throw new UsageError(`--hypervisor: "${value}" is not one of ${HYPERVISORS.join(', ')}`);
  }
  return kind as HypervisorKind;
}

/**
 * The default when nothing is asked: Cloud Hypervisor where it is installed and KVM runs
 * stock guests, else QEMU (packaged everywhere). Only QEMU has a driver so far, so the
 * configured kind or QEMU.
 */
export function defaultHypervisor(configured: HypervisorKind | null): HypervisorKind {
  return configured ?? 'qemu';
}
