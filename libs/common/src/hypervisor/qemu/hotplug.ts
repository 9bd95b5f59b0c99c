/**
 * Room to grow a QEMU VM live, and the command-line side of it. A migration stream restores
 * exactly the machine it was saved from, so a clone or restore that wants more vCPUs, memory or
 * NICs than the snapshot had starts the saved machine and then hot-adds (grow.ts). That needs
 * room reserved at every launch, recorded in the VM's `tuning.hotplug`:
 * - vCPUs: `-smp N,maxcpus=M`, M = the host's cores up to 16. Measured under TCG: a guest pays
 *   ~250 KiB of per-CPU memory per possible vCPU (16 → ~4 MiB), so not the kernel's 8192.
 * - memory: `-m SIZE,slots=8,maxmem=MAX`, MAX = this host's RAM. Only for direct kernel boots:
 *   possible memory above 4 GiB makes Linux allocate its 64 MiB SWIOTLB bounce buffer at boot
 *   (measured: MemTotal 222 → 156 MiB on a 256 MiB guest), which cocoon turns off on the kernel
 *   command line it controls (`swiotlb=noforce`: virtio devices do not bounce); a firmware boot's
 *   command line is the image's own, so those VMs get no memory room. Memory added live is
 *   onlined by the kernel itself (`memhp_default_state=online`; Debian's kernel does not default
 *   to it) and comes in DIMMs of whole 128 MiB blocks (the guest's memory block size).
 * - NICs: 8 spare PCIe root ports (q35's root bus takes no hotplug), as the 8 functions of one
 *   slot (0x1e), so they cost one PCI slot.
 * Devices added live are re-created on the command line of any later launch from a state saved
 * with them (same ids, order and topology), before the state loads.
 */
import { totalmem } from 'node:os';
import type { LaunchSpec } from '../index.ts';
import type { VmHotplug } from '../../schemas/vm.ts';
import { MAX_NICS } from '../../net/names.ts';
import { hostCores } from '../tuning.ts';

/** vCPU headroom is the host's cores, at most this many. */
export const MAX_CPU_ROOM = 16;
/** DIMM slots: each live memory growth takes one. */
export const DIMM_SLOTS = 8;
/** Spare root ports for NICs added live. */
export const SPARE_PORTS = 8;
/** The PCI slot of the spare root ports (one function each); q35 keeps 0x1f for its LPC bridge. */
const PORT_SLOT = '0x1e';
/** Linux on x86_64 adds memory in blocks of 128 MiB (below 64 GiB of RAM). */
export const MEMORY_BLOCK = 128 * 2 ** 20;
/** Kernel parameters that make memory room free and added memory usable at once (see above). */
export const HOTPLUG_KERNEL_ARGS = 'swiotlb=noforce memhp_default_state=online';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

/** The room a launch of `spec` reserves. */
export function qemuHeadroom(spec: LaunchSpec, hostRam = totalmem(), cores = hostCores()): VmHotplug {
  const direct = spec.kernel !== null;
  return {
    max_cpu: Math.max(spec.cpu, Math.min(cores, MAX_CPU_ROOM)),
    max_memory: direct ? Math.max(spec.memory, Math.ceil(hostRam / GiB) * GiB) : spec.memory,
    slots: direct ? DIMM_SLOTS : 0,
    ports: Math.max(0, Math.min(SPARE_PORTS, MAX_NICS - spec.nics.length)),
    cpus: [],
    dimms: [],
    nics: 0,
  };
}

/** `-smp`: the launch's vCPUs, and room for more. */
export function smpArg(spec: LaunchSpec): string {
  const h = spec.tuning.hotplug;
  return h ? `${spec.cpu},maxcpus=${h.max_cpu}` : String(spec.cpu);
}

/** `-m`: the launch's RAM (DIMMs added live come on top), and room for DIMMs. */
export function memoryArg(spec: LaunchSpec): string {
  const h = spec.tuning.hotplug;
  const mib = Math.floor(spec.memory / MiB);
  return h && h.slots > 0 ? `${mib}M,slots=${h.slots},maxmem=${Math.floor(h.max_memory / MiB)}M` : `${mib}M`;
}

/** The kernel command line, with the memory-room parameters when the launch has DIMM slots. */
export function appendArg(spec: LaunchSpec): string {
  return spec.tuning.hotplug && spec.tuning.hotplug.slots > 0 ? `${spec.cmdline} ${HOTPLUG_KERNEL_ARGS}` : spec.cmdline;
}

/** QEMU's vCPU device type for the `-cpu` model this launch uses. */
export function cpuType(spec: Pick<LaunchSpec, 'accel'>): string {
  return `${spec.accel === 'kvm' ? 'host' : 'max'}-x86_64-cpu`;
}

/** Device id of the k-th vCPU added live. */
export const cpuId = (k: number): string => `cpu-hp${k}`;
/** Device id of the k-th DIMM added live, and of its memory backend. */
export const dimmId = (k: number): string => `dimm${k}`;
export const dimmMemId = (k: number): string => `dimm${k}-mem`;
/** Id of spare root port k (the k-th NIC added live sits on it). */
export const portId = (k: number): string => `hp${k}`;

/** The memory backend of DIMM k (`object-add` arguments): hugepages when the RAM has them. */
export function dimmBackend(k: number, bytes: number, hugepages: boolean): Record<string, string | number | boolean> {
  return hugepages
    ? { 'qom-type': 'memory-backend-memfd', id: dimmMemId(k), size: bytes, hugetlb: true, hugetlbsize: 2 * MiB }
    : { 'qom-type': 'memory-backend-ram', id: dimmMemId(k), size: bytes };
}

/**
 * The spare root ports, and the vCPUs and DIMMs added live before the state this launch loads
 * was saved (empty for a fresh launch). The ports come before the NICs that may sit on them.
 */
export function hotplugArgs(spec: LaunchSpec): string[] {
  const h = spec.tuning.hotplug;
  if (!h) return [];
  const args: string[] = [];
  for (let k = 0; k < h.ports; k++) {
    args.push('-device', `pcie-root-port,id=${portId(k)},bus=pcie.0,addr=${PORT_SLOT}.${k}${k === 0 ? ',multifunction=on' : ''},chassis=${k + 1}`);
  }
  h.cpus.forEach((props, k) => args.push('-device', optString({ driver: cpuType(spec), id: cpuId(k), ...props })));
  h.dimms.forEach((bytes, k) => {
    const { 'qom-type': type = '', ...backend } = dimmBackend(k, bytes, spec.tuning.hugepages);
    args.push('-object', optString({ type, ...backend }), '-device', `pc-dimm,id=${dimmId(k)},memdev=${dimmMemId(k)}`);
  });
  return args;
}

/** Where NIC `i` of `spec` is plugged: the root bus, or (added live) its spare root port. */
export function nicPlacement(spec: LaunchSpec, i: number): Record<string, string> {
  const h = spec.tuning.hotplug;
  const live = h ? i - (spec.nics.length - h.nics) : -1;
  return live >= 0 ? { id: `nic${i}`, bus: portId(live) } : {};
}

/**
 * QEMU's `key=value,…` form of typed options (the first key's value alone when it is
 * `driver`/`type`): true/false become on/off, and commas in values are doubled.
 */
export function optString(opts: Record<string, string | number | boolean>): string {
  return Object.entries(opts)
    .map(([k, v], i) => {
      const value = typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v).replaceAll(',', ',,');
      return i === 0 && (k === 'driver' || k === 'type') ? value : `${k}=${value}`;
    })
    .join(',');
}
