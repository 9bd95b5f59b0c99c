/**
 * Kernel vsock for guests: used where the host has `/dev/vhost-vsock` (QEMU's
 * vhost-vsock-pci; Cloud Hypervisor and Firecracker bring their own). Each VM needs a
 * guest CID unique on the host; 0-2 are reserved (hypervisor, local, host).
 */
import { accessSync, constants } from 'node:fs';

export const VHOST_VSOCK = '/dev/vhost-vsock';
export const FIRST_GUEST_CID = 3;

/** Whether this host can give guests a kernel vsock device. */
export function hostHasVhostVsock(device = VHOST_VSOCK): boolean {
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
