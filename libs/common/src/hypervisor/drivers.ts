/** Driver selection: the VM's recorded kind, a flag, the config, or the best available. */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { UsageError } from '../errors.ts';
import { HYPERVISORS, type HypervisorKind } from '../schemas/config.ts';
import type { Hypervisor } from './index.ts';
import { hostProbe } from './accel.ts';
import { CloudHypervisorDriver } from './cloud-hypervisor/index.ts';
import { FirecrackerDriver } from './firecracker/index.ts';
import { QemuDriver } from './qemu/index.ts';

/** The driver for `kind`. */
export function driverFor(kind: HypervisorKind): Hypervisor {
  if (kind === 'cloud-hypervisor') return new CloudHypervisorDriver();
  if (kind === 'firecracker') return new FirecrackerDriver();
  return new QemuDriver();
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

/** Whether `binary` is an executable on PATH. */
export function onPath(binary: string, env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, binary), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * The default when nothing is asked: the configured one; else Cloud Hypervisor where it is
 * on PATH and KVM runs stock guests (CH has no software emulation); else QEMU (packaged
 * everywhere, and TCG where KVM cannot run the guest).
 */
export function defaultHypervisor(configured: HypervisorKind | null, accel: 'kvm' | 'tcg', chInstalled = onPath('cloud-hypervisor'), probe = hostProbe): HypervisorKind {
  if (configured) return configured;
  return chInstalled && accel === 'kvm' && probe.kvmUsable() ? 'cloud-hypervisor' : 'qemu';
}
