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
import type { NetworkConfig } from '../../schemas/vm.ts';
import { inNetns, type CommandLine, type LaunchSpec } from '../index.ts';
import { appendArg, hotplugArgs, memoryArg, nicPlacement, optString, smpArg } from './hotplug.ts';

export const QEMU_BINARY = 'qemu-system-x86_64';
/** QEMU device id of the agent's virtio-serial port (named in VSERPORT_CHANGE events). */
export const AGENT_PORT_ID = 'agentport0';

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
    '-m', memoryArg(spec),
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
    '-device', 'virtio-serial-pci,id=vser0',
    '-chardev', `socket,id=agent0,path=${escapeOpt(p.agentSerialSocket)},server=on,wait=off`,
    '-device', `virtserialport,bus=vser0.0,chardev=agent0,name=org.cocoon.agent,id=${AGENT_PORT_ID}`,
    // A second QMP monitor for events only: the relay learns there when the guest closes the
    // agent's port (a serial port shows the host no hang-up), without holding the main QMP.
    '-chardev', `socket,id=events0,path=${escapeOpt(p.eventsSocket)},server=on,wait=off`,
    '-mon', 'chardev=events0,mode=control',
    ...(spec.vsockCid === null ? [] : ['-device', `vhost-vsock-pci,id=vsock0,guest-cid=${spec.vsockCid}`]),
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

/** QEMU option values escape a comma by doubling it. */
function escapeOpt(value: string): string {
  return value.replaceAll(',', ',,');
}
