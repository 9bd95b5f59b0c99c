/**
 * Kernel vsock for guests: used where the host has `/dev/vhost-vsock` (QEMU's
 * vhost-vsock-pci; Cloud Hypervisor and Firecracker bring their own). Each VM needs a
 * guest CID unique on the host; 0-2 are reserved (hypervisor, local, host).
 */
import { accessSync, constants } from 'node:fs';

export const VHOST_VSOCK = '/dev/vhost-vsock';
export const FIRST_GUEST_CID = 3;

/**
 * The device whose presence decides it: `/dev/vhost-vsock`, or `COCOON_VHOST_VSOCK` (how
 * the tests exercise the vhost-vsock path with a stand-in on hosts that lack the device;
 * QEMU itself always opens /dev/vhost-vsock).
 */
export function vhostVsockDevice(env: NodeJS.ProcessEnv = process.env): string {
  return env.COCOON_VHOST_VSOCK || VHOST_VSOCK;
}

/** Whether this host can give guests a kernel vsock device. */
export function hostHasVhostVsock(device = vhostVsockDevice()): boolean {
  try {
    accessSync(device, constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The smallest guest CID not in `used`. */
export function nextGuestCid(used: Iterable<number | null>): number {
  const taken = new Set<number>();
  for (const cid of used) if (cid !== null) taken.add(cid);
  let cid = FIRST_GUEST_CID;
  while (taken.has(cid)) cid++;
  return cid;
}
