/**
 * Names and sizes of a VM's network pieces, shared by the front end (validation, QEMU
 * arguments), `cocoon-net` (setup, teardown) and `cocoon-gc` (finding leftovers).
 */
import { statSync } from 'node:fs';
import { dirname } from 'node:path';

/** Named network namespaces live here (where `ip netns` keeps them). */
export const NETNS_DIR = '/var/run/netns';
/** Every per-VM netns is `cocoon-<vm id>`; the prefix keeps other tools' namespaces out of gc's reach. */
export const NETNS_PREFIX = 'cocoon-';
/** Most NICs one VM may have (each is a PCI device; the bench sets up 16). */
export const MAX_NICS = 16;
/** virtio-net ring depth per queue when the VM asks for none (the Go cocoon's default). */
export const DEFAULT_QUEUE_SIZE = 512;

/** The netns name of VM `id`. */
export function netnsName(id: string): string {
  return `${NETNS_PREFIX}${id}`;
}

/** The netns path of VM `id` (`CNI_NETNS`, `netns_path`). */
export function netnsPath(id: string): string {
  return `${NETNS_DIR}/${netnsName(id)}`;
}

/** The TAP of NIC `i` inside the VM's netns (CNI mode): `tap<id8>-<i>`. */
export function tapName(id: string, i: number): string {
  return `tap${id.slice(0, 8)}-${i}`;
}

/** The TAP of NIC `i` on a host bridge (bridge mode, in the host netns): `bt<id8>-<i>`, as the Go cocoon. */
export function bridgeTapName(id: string, i: number): string {
  return `bt${id.slice(0, 8)}-${i}`;
}

/**
 * virtio-net queue pairs of a VM: one per vCPU (a multi-queue TAP), one on Firecracker
 * (its virtio-net has a single pair).
 */
export function queuePairs(cpu: number, hypervisor?: string): number {
  return hypervisor === 'firecracker' ? 1 : Math.max(1, cpu);
}

/** `num_queues` as the Go cocoon records it: RX + TX queues, two per pair. */
export function numQueues(pairs: number): number {
  return pairs * 2;
}

/** A random locally administered unicast MAC (bridge mode: no veth to take one from). */
export function randomMac(bytes: Uint8Array): string {
  const b = [...bytes.slice(0, 6)];
  b[0] = ((b[0] ?? 0) | 0x02) & 0xfe;
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** Whether `path` is a live netns: a mounted nsfs file, not an empty file left by a lost mount (a reboot, a private mount namespace). */
export function netnsMounted(path: string): boolean {
  try {
    return statSync(path).dev !== statSync(dirname(path)).dev;
  } catch {
    return false;
  }
}
