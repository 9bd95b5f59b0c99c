/**
 * Firecracker's boot sequence: an empty process, then REST calls (bodies as the Swagger
 * description at ../shared/specs names them) and `InstanceStart`. Pure builders: the driver
 * sends them, `vm debug` prints them as curl lines, the contract tests validate them.
 */
import { dirname, join } from 'node:path';
import type { ApiRequest, LaunchSpec } from '../index.ts';
import type { NetworkConfig } from '../../schemas/vm.ts';

export const FC_BINARY = 'firecracker';

/** The uncompressed ELF kernel Firecracker boots, cached beside the image's bzImage. */
export function vmlinuxPath(kernel: string): string {
  return join(dirname(kernel), 'vmlinux');
}

/** `/dev/vdX` of the i-th drive (Firecracker attaches drives in the order they were PUT, and has no serials). */
export function fcDevice(i: number): string {
  return `/dev/vd${String.fromCharCode(97 + i)}`;
}

/**
 * The kernel command line with disk serials replaced by device paths in `cocoon.layers=`,
 * `cocoon.cow=` and `cocoon.data=` (the guest init accepts either).
 */
export function fcCmdline(spec: Pick<LaunchSpec, 'cmdline' | 'disks'>): string {
  const dev = new Map(spec.disks.map((d, i) => [d.serial, fcDevice(i)]));
  const swap = (serial: string) => dev.get(serial) ?? serial;
  return spec.cmdline
    .split(' ')
    .map((arg) => {
      const m = /^(cocoon\.layers|cocoon\.cow|cocoon\.data)=(.*)$/.exec(arg);
      if (!m) return arg;
      const items = m[2]!.split(',').map((item) => {
        const [serial, ...rest] = item.split(':');
        return [swap(serial!), ...rest].join(':');
      });
      return `${m[1]}=${items.join(',')}`;
    })
    .join(' ');
}

/** Every call `start` makes after the process answers, in order, ending with InstanceStart. */
export function fcBootRequests(spec: LaunchSpec): ApiRequest[] {
  if (!spec.kernel) throw new Error('Assertion failed: Firecracker boots a kernel, and this VM has none');
  const t = spec.tuning;
  const mib = Math.floor(spec.memory / 2 ** 20);
  const reqs: ApiRequest[] = [
    { method: 'PUT', path: '/machine-config', body: { vcpu_count: spec.cpu, mem_size_mib: mib, huge_pages: t.hugepages ? '2M' : 'None' } },
    {
      method: 'PUT',
      path: '/boot-source',
      body: { kernel_image_path: vmlinuxPath(spec.kernel), ...(spec.initrd ? { initrd_path: spec.initrd } : {}), boot_args: fcCmdline(spec) },
    },
  ];
  spec.disks.forEach((d, i) => {
    const id = `drive${i}`;
    // Firecracker has no O_DIRECT switch: writable drives use the asynchronous (io_uring) engine.
    reqs.push({ method: 'PUT', path: `/drives/${id}`, body: { drive_id: id, path_on_host: d.path, is_root_device: false, is_read_only: d.read_only, ...(d.read_only ? {} : { io_engine: 'Async' }) } });
  });
  spec.nics.forEach((nic, i) => reqs.push(fcNetworkInterface(nic, i)));
  if (t.balloon > 0) reqs.push({ method: 'PUT', path: '/balloon', body: { amount_mib: Math.floor(t.balloon / 2 ** 20), deflate_on_oom: true, free_page_reporting: true } });
  if (spec.vsockCid !== null) reqs.push({ method: 'PUT', path: '/vsock', body: { guest_cid: spec.vsockCid, uds_path: spec.paths.vsockSocket } });
  reqs.push({ method: 'PUT', path: '/entropy', body: {} }, fcAction('InstanceStart'));
  return reqs;
}

/** `PUT /network-interfaces/eth<i>`. */
export function fcNetworkInterface(nic: NetworkConfig, i: number): ApiRequest {
  const id = `eth${i}`;
  return { method: 'PUT', path: `/network-interfaces/${id}`, body: { iface_id: id, host_dev_name: nic.tap, guest_mac: nic.mac } };
}

export const fcAction = (action: 'InstanceStart' | 'SendCtrlAltDel'): ApiRequest => ({ method: 'PUT', path: '/actions', body: { action_type: action } });
export const fcVmState = (state: 'Paused' | 'Resumed'): ApiRequest => ({ method: 'PATCH', path: '/vm', body: { state } });
export const fcInfo = (): ApiRequest => ({ method: 'GET', path: '/' });

/** `PUT /snapshot/create`: a full snapshot (`vmstate` + `mem`) into `dir`; the VM must be paused. */
export function fcSnapshotCreate(dir: string): ApiRequest {
  return { method: 'PUT', path: '/snapshot/create', body: { snapshot_path: join(dir, 'vmstate'), mem_file_path: join(dir, 'mem'), snapshot_type: 'Full' } };
}

/**
 * `PUT /snapshot/load` on a fresh process, left paused (the caller resumes): each NIC moved to
 * the new VM's TAP (`network_overrides`) and the vsock to its own socket (`vsock_override`).
 */
export function fcSnapshotLoad(dir: string, nics: readonly NetworkConfig[], vsockSocket: string | null = null): ApiRequest {
  return {
    method: 'PUT',
    path: '/snapshot/load',
    body: {
      snapshot_path: join(dir, 'vmstate'),
      mem_backend: { backend_type: 'File', backend_path: join(dir, 'mem') },
      resume_vm: false,
      ...(nics.length ? { network_overrides: nics.map((nic, i) => ({ iface_id: `eth${i}`, host_dev_name: nic.tap })) } : {}),
      ...(vsockSocket ? { vsock_override: { uds_path: vsockSocket } } : {}),
    },
  };
}

/**
 * `PATCH /drives/drive<i>` of every writable disk, after the load and before the resume: the
 * load reopened the drives at the paths saved in `vmstate` (the source VM's; the API has no
 * drive override), so each writable drive is moved to this VM's own file before the guest runs.
 * Read-only layers are shared blobs at the same path and stay.
 */
export function fcDriveSwaps(disks: LaunchSpec['disks']): ApiRequest[] {
  return disks.flatMap((d, i) => (d.read_only ? [] : [{ method: 'PATCH' as const, path: `/drives/drive${i}`, body: { drive_id: `drive${i}`, path_on_host: d.path } }]));
}

/** One request as a curl line (for `vm debug`). */
export function curlLine(socket: string, req: ApiRequest): string {
  const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  const body = req.body === undefined ? '' : ` -H 'Content-Type: application/json' -d ${q(JSON.stringify(req.body))}`;
  return `curl --unix-socket ${q(socket)} -X ${req.method} http://localhost${req.path}${body}`;
}
