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
import type { CommandLine, LaunchSpec } from '../index.ts';
import { AGENT_POOL_PORTS, agentChardevId, agentPool, agentPortId, agentPortName } from './agent-pool.ts';

export const QEMU_BINARY = 'qemu-system-x86_64';

/** Builds the argv for `spec`. */
export function qemuCommandLine(spec: LaunchSpec, binary = QEMU_BINARY): CommandLine {
  const p = spec.paths;
  const args: string[] = [
    '-name', `cocoon-${spec.name},debug-threads=on`,
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-M', 'q35,acpi=on',
    '-accel', spec.accel,
    '-cpu', spec.accel === 'kvm' ? 'host' : 'max',
    '-smp', String(spec.cpu),
    '-m', memoryArg(spec),
  ];
  if (spec.firmware) {
    args.push(
      '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${escapeOpt(spec.firmware)}`,
      '-drive', `if=pflash,format=raw,unit=1,file=${escapeOpt(p.uefiVars)}`,
    );
  }
  if (spec.kernel) args.push('-kernel', spec.kernel);
  if (spec.initrd) args.push('-initrd', spec.initrd);
  if (spec.kernel) args.push('-append', spec.cmdline);
  spec.disks.forEach((d, i) => {
    if (d.pmem) return void args.push(...pmemArgs(d.path, i));
    const ro = d.read_only ? ',read-only=on' : '';
    args.push(
      '-blockdev', `driver=file,node-name=file${i},filename=${escapeOpt(d.path)}${ro}`,
      '-blockdev', `driver=${d.format},node-name=disk${i},file=file${i}${ro}`,
      '-device', `virtio-blk-pci,drive=disk${i},serial=${d.serial}${spec.firmware && i === 0 ? ',bootindex=0' : ''}`,
    );
  });
  args.push(
    '-chardev', `socket,id=con0,path=${escapeOpt(p.consoleSocket)},server=on,wait=off,logfile=${escapeOpt(p.consoleLog)},logappend=on`,
    '-serial', 'chardev:con0',
    ...(spec.vsockCid === null ? agentPoolArgs(p.agentPoolDir) : ['-device', `vhost-vsock-pci,id=vsock0,guest-cid=${spec.vsockCid}`]),
    '-qmp', `unix:${escapeOpt(p.apiSocket)},server=on,wait=off`,
    '-pidfile', p.pidFile,
  );
  return { file: binary, args };
}

/** Bytes QEMU maps of a pmem layer: its whole file (padded to 2 MiB when it was imported). */
function pmemBytes(path: string): number {
  return statSync(path, { throwIfNoEntry: false })?.size ?? 0;
}

/**
 * Guest RAM, plus room for the virtio-pmem devices: they live in QEMU's device-memory
 * region, which `maxmem` sizes (RAM + every device; measured: exactly that suffices).
 */
function memoryArg(spec: LaunchSpec): string {
  const mib = Math.floor(spec.memory / 2 ** 20);
  const pmem = spec.disks.filter((d) => d.pmem).reduce((sum, d) => sum + Math.ceil(pmemBytes(d.path) / 2 ** 20), 0);
  return pmem === 0 ? `${mib}M` : `${mib}M,maxmem=${mib + pmem}M`;
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
