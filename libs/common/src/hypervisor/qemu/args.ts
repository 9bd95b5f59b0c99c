/**
 * The QEMU command line: direct kernel boot on `q35` with virtio-pci devices, ACPI on so
 * QMP `system_powerdown` reaches the guest as a power-button press. The console goes to
 * a Unix socket and, through `logfile`, to the VM log.
 *
 * Why not `microvm` (DESIGN.md's first choice): under TCG, Debian's 6.1 kernel hangs on
 * `microvm,acpi=on` right after "tsc: Marking TSC unstable" (no timer interrupts), and
 * with `acpi=off` it cannot find the virtio-mmio devices because the kernel is built
 * without CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES. q35 boots the same guest to its readiness
 * marker in about 5 s under TCG.
 */
import { statSync } from 'node:fs';
import type { NetworkConfig } from '../../schemas/vm.ts';
import { inNetns, type CommandLine, type LaunchSpec } from '../index.ts';
import { AGENT_POOL_PORTS, agentChardevId, agentPool, agentPortId, agentPortName } from './agent-pool.ts';
import { appendArg, hotplugArgs, memoryArg, nicPlacement, optString, smpArg } from './hotplug.ts';

export const QEMU_BINARY = 'qemu-system-x86_64';

/** Builds the argv for `spec`. */
export function qemuCommandLine(spec: LaunchSpec, binary = QEMU_BINARY): CommandLine {
  const p = spec.paths;
  const args: string[] = [
    '-name', `cocoon-${spec.name},debug-threads=on`,
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-M', 'q35,acpi=on',
    '-accel', spec.accel,
    '-cpu', (spec.accel === 'kvm' ? 'host' : 'max') + (spec.tuning.hyperv ? HYPERV_FLAGS : ''),
    '-smp', smpArg(spec),
    '-m', memoryArg(spec, pmemMiB(spec)),
    ...tuningArgs(spec),
  ];
  if (spec.firmware) {
    args.push(
      '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${escapeOpt(spec.firmware)}`,
      '-drive', `if=pflash,format=raw,unit=1,file=${escapeOpt(p.uefiVars)}`,
    );
  }
  if (spec.kernel) args.push('-kernel', spec.kernel);
  if (spec.initrd) args.push('-initrd', spec.initrd);
  if (spec.kernel) args.push('-append', appendArg(spec));
  spec.disks.forEach((d, i) => {
    if (d.pmem) return void args.push(...pmemArgs(d.path, i));
    const ro = d.read_only ? ',read-only=on' : '';
    // O_DIRECT needs native AIO to stay asynchronous; io_uring may be disabled on hardened hosts.
    const direct = d.direct ? ',cache.direct=on,aio=native' : '';
    const queues = `num-queues=${spec.cpu},queue-size=${spec.tuning.disk_queue_size}`;
    args.push(
      '-blockdev', `driver=file,node-name=file${i},filename=${escapeOpt(d.path)}${ro}${direct}`,
      '-blockdev', `driver=${d.format},node-name=disk${i},file=file${i}${ro}`,
      '-device', `virtio-blk-pci,drive=disk${i},serial=${d.serial},${queues}${spec.firmware && i === 0 ? ',bootindex=0' : ''}`,
    );
  });
  // Room to grow live (hotplug.ts): spare root ports, and what was added live before a saved state.
  args.push(...hotplugArgs(spec));
  args.push(...nicArgs(spec));
  args.push(
    '-chardev', `socket,id=con0,path=${escapeOpt(p.consoleSocket)},server=on,wait=off,logfile=${escapeOpt(p.consoleLog)},logappend=on`,
    '-serial', 'chardev:con0',
    ...(spec.vsockCid === null ? agentPoolArgs(p.agentPoolDir) : ['-device', `vhost-vsock-pci,id=vsock0,guest-cid=${spec.vsockCid}`]),
    '-qmp', `unix:${escapeOpt(p.apiSocket)},server=on,wait=off`,
    '-pidfile', p.pidFile,
  );
  return inNetns({ file: binary, args }, spec.netns);
}

/**
 * One `-netdev tap` + `virtio-net-pci` per NIC: the TAP cocoon-net made (QEMU runs in its
 * netns and opens it by name), `queues=` pairs with `mq=on` when multi-queue, the guest
 * MAC, and the ring depth where QEMU accepts it (a power of two, 256–1024). NICs added
 * live sit on their spare root ports (hotplug.ts).
 */
function nicArgs(spec: LaunchSpec): string[] {
  return spec.nics.flatMap((n, i) => ['-netdev', optString(netdevOptions(spec, n, i)), '-device', optString({ ...nicDeviceOptions(n, i), ...nicPlacement(spec, i) })]);
}

/** The `-netdev` (and QMP `netdev_add`) options of NIC `i`. */
export function netdevOptions(spec: Pick<LaunchSpec, 'vhostNet'>, n: NetworkConfig, i: number): Record<string, string | number | boolean> {
  const pairs = queuePairs(n);
  return { type: 'tap', id: `net${i}`, ifname: n.tap, script: 'no', downscript: 'no', vnet_hdr: true, vhost: spec.vhostNet, ...(pairs > 1 ? { queues: pairs } : {}) };
}

/** The `virtio-net-pci` (and QMP `device_add`) options of NIC `i`. */
export function nicDeviceOptions(n: NetworkConfig, i: number): Record<string, string | number | boolean> {
  const pairs = queuePairs(n);
  const q = n.queue_size;
  const ring: Record<string, number> = q >= 256 && q <= 1024 && (q & (q - 1)) === 0 ? { rx_queue_size: q, tx_queue_size: q } : {};
  return { driver: 'virtio-net-pci', netdev: `net${i}`, mac: n.mac, ...(pairs > 1 ? { mq: true, vectors: 2 * pairs + 2 } : {}), ...ring };
}

function queuePairs(n: NetworkConfig): number {
  return Math.max(1, Math.floor(n.num_queues / 2));
}

/** Hyper-V enlightenments for Windows guests (accepted under TCG too). */
const HYPERV_FLAGS = ',hv-relaxed,hv-vapic,hv-spinlocks=0x1fff,hv-time';

/**
 * Host tuning (tuning.ts): guest memory on a hugetlbfs-backed memfd when the host has
 * hugepages, a balloon (its 25 % target is set over QMP once QEMU answers) and an i6300esb
 * watchdog that resets the guest (with -no-reboot: ends the VM).
 */
function tuningArgs(spec: LaunchSpec): string[] {
  const t = spec.tuning;
  return [
    ...(t.hugepages ? ['-object', `memory-backend-memfd,id=mem0,size=${Math.floor(spec.memory / 2 ** 20)}M,hugetlb=on,hugetlbsize=2M`, '-machine', 'memory-backend=mem0'] : []),
    ...(t.balloon > 0 ? ['-device', 'virtio-balloon-pci,id=balloon0,deflate-on-oom=on,free-page-reporting=on'] : []),
    ...(t.watchdog ? ['-device', 'i6300esb,id=watchdog0', '-action', 'watchdog=reset'] : []),
  ];
}

/** Bytes QEMU maps of a pmem layer: its whole file (padded to 128 MiB when it was imported). */
function pmemBytes(path: string): number {
  return statSync(path, { throwIfNoEntry: false })?.size ?? 0;
}

/**
 * MiB of device memory the virtio-pmem layers take: they live in QEMU's device-memory
 * region, which `maxmem` sizes (RAM + DIMMs + every device; measured: exactly that suffices).
 */
function pmemMiB(spec: LaunchSpec): number {
  return spec.disks.filter((d) => d.pmem).reduce((sum, d) => sum + Math.ceil(pmemBytes(d.path) / 2 ** 20), 0);
}

/**
 * A read-only layer mapped into the guest: the file itself backs the device's memory,
 * shared (`share=on`: every QEMU maps the same page-cache pages) and read-only (opened
 * O_RDONLY, so no guest can change what the others run). The guest mounts it with DAX.
 */
function pmemArgs(path: string, i: number): string[] {
  return [
    '-object', `memory-backend-file,id=pmem${i},mem-path=${escapeOpt(path)},size=${pmemBytes(path)},share=on,readonly=on`,
    '-device', `virtio-pmem-pci,memdev=pmem${i},id=pmemdev${i}`,
  ];
}

/**
 * The agent's port pool (agent-pool.ts), for hosts without vhost-vsock: per port, a
 * virtio-serial port on its own chardev socket and an event-only QMP monitor for whoever
 * holds the port (a serial port shows the host no hang-up: VSERPORT_CHANGE tells it the
 * agent died). Listening sockets only: nothing runs for them while no client is connected.
 */
function agentPoolArgs(dir: string): string[] {
  const pool = agentPool(dir);
  const args = ['-device', `virtio-serial-pci,id=vser0,max_ports=${AGENT_POOL_PORTS + 1}`];
  for (let k = 0; k < AGENT_POOL_PORTS; k++) {
    args.push(
      '-chardev', `socket,id=${agentChardevId(k)},path=${escapeOpt(pool.socket(k))},server=on,wait=off`,
      '-device', `virtserialport,bus=vser0.0,nr=${k + 1},chardev=${agentChardevId(k)},name=${agentPortName(k)},id=${agentPortId(k)}`,
      '-chardev', `socket,id=agentev${k},path=${escapeOpt(pool.events(k))},server=on,wait=off`,
      '-mon', `chardev=agentev${k},mode=control`,
    );
  }
  return args;
}

/** QEMU option values escape a comma by doubling it. */
function escapeOpt(value: string): string {
  return value.replaceAll(',', ',,');
}
