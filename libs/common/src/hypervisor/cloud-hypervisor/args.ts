/**
 * The Cloud Hypervisor command line: the whole VM is described at launch (CH boots it at
 * once) and the REST API listens on `--api-socket`. Option values follow CH's option
 * grammar (`key=value,…`, `on|off` toggles; a value with a comma or bracket is quoted).
 * Direct kernel boot gets its console on a PTY (`hvc0`); UEFI boots put the serial port on
 * the console socket, where the firmware and the boot loader write.
 */
import { UsageError } from '../../errors.ts';
import type { CommandLine, LaunchDisk, LaunchSpec } from '../index.ts';
import { hostCores } from '../tuning.ts';
import type { NetworkConfig } from '../../schemas/vm.ts';

export const CH_BINARY = 'cloud-hypervisor';
export const CH_RNG_SOURCE = '/dev/urandom';

/** One CH option value: quoted when it holds a separator; a double quote cannot be carried at all. */
export function chValue(value: string): string {
  if (value.includes('"')) throw new UsageError(`"${value}": Cloud Hypervisor's option syntax cannot carry a double quote in a path`);
  return /[,[\]]/.test(value) ? `"${value}"` : value;
}

const kv = (pairs: Array<[string, string | number | boolean | undefined]>): string =>
  pairs
    .filter((p): p is [string, string | number | true] => p[1] !== undefined && p[1] !== false)
    .map(([k, v]) => (v === true ? `${k}=on` : `${k}=${typeof v === 'number' ? v : chValue(v)}`))
    .join(',');

/** `--disk` value of one disk (the same mapping `vm.add-disk` uses). */
export function chDiskArg(d: LaunchDisk, spec: Pick<LaunchSpec, 'cpu' | 'tuning'>): string {
  const qcow2 = d.format === 'qcow2';
  return kv([
    ['path', d.path],
    ['readonly', d.read_only],
    ['direct', d.direct],
    // Sparse writes keep raw disks thin; a qcow2 overlay is thin by itself and reads its backing file.
    ['sparse', !d.read_only && !qcow2],
    ['image_type', qcow2 ? 'qcow2' : 'raw'],
    ['backing_files', qcow2 && !d.read_only],
    ['num_queues', spec.cpu],
    ['queue_size', spec.tuning.disk_queue_size],
    ['serial', d.serial],
  ]);
}

/** `--net` value of one NIC: two queues (rx+tx) per vCPU, offloads on. */
export function chNetArg(nic: NetworkConfig, spec: Pick<LaunchSpec, 'cpu' | 'tuning'>): string {
  return kv([
    ['tap', nic.tap],
    ['mac', nic.mac],
    ['num_queues', 2 * spec.cpu],
    ['queue_size', spec.tuning.queue_size],
    ['offload_tso', true],
    ['offload_ufo', true],
    ['offload_csum', true],
  ]);
}

/** The argv for `spec`. */
export function chCommandLine(spec: LaunchSpec, binary = CH_BINARY): CommandLine {
  const p = spec.paths;
  const t = spec.tuning;
  const args = [
    '--api-socket', `path=${chValue(p.apiSocket)}`,
    '--cpus', kv([['boot', spec.cpu], ['max', Math.max(spec.cpu, hostCores())], ['kvm_hyperv', t.hyperv]]),
    '--memory', kv([['size', spec.memory], ['hugepages', t.hugepages]]),
  ];
  if (spec.firmware) args.push('--firmware', spec.firmware);
  else if (spec.kernel) {
    args.push('--kernel', spec.kernel);
    if (spec.initrd) args.push('--initramfs', spec.initrd);
    // The kernel's last console= is /dev/console: the PTY console (hvc0) here.
    args.push('--cmdline', `${spec.cmdline} console=hvc0`);
  }
  for (const d of spec.disks) args.push('--disk', chDiskArg(d, spec));
  for (const nic of spec.nics) args.push('--net', chNetArg(nic, spec));
  args.push('--rng', `src=${CH_RNG_SOURCE}`);
  if (t.watchdog) args.push('--watchdog');
  if (t.balloon > 0) args.push('--balloon', kv([['size', t.balloon], ['deflate_on_oom', true], ['free_page_reporting', true]]));
  if (spec.vsockCid !== null) args.push('--vsock', kv([['cid', spec.vsockCid], ['socket', p.vsockSocket]]));
  if (spec.firmware) args.push('--serial', `socket=${chValue(p.consoleSocket)}`, '--console', 'off');
  else args.push('--serial', 'off', '--console', 'pty');
  return { file: binary, args };
}
