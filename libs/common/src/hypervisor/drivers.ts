/** Driver selection: the VM's recorded kind, a flag, the config, or the best available. */
import { MissingDependencyError, UsageError } from '../errors.ts';
import { HYPERVISORS, type HypervisorKind } from '../schemas/config.ts';
import type { Hypervisor } from './index.ts';
import { QemuDriver } from './qemu/index.ts';

/** The driver for `kind`. */
export function driverFor(kind: HypervisorKind): Hypervisor {
  if (kind === 'qemu') return new QemuDriver();
  throw new MissingDependencyError(`the ${kind} driver is not available in this build yet; use --hypervisor qemu`);
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
 * stock guests, else QEMU (packaged everywhere). Only QEMU is built so far.
 */
export function defaultHypervisor(configured: HypervisorKind | null): HypervisorKind {
  return configured ?? 'qemu';
}
