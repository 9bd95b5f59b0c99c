/**
 * Cloud Hypervisor REST requests (paths under `/api/v1`, bodies as the OpenAPI description
 * at ../shared/specs names them). Pure builders: the driver sends them, the contract tests
 * validate every one against the spec.
 */
import type { ApiRequest, LaunchDisk, LaunchSpec } from '../index.ts';
import type { NetworkConfig } from '../../schemas/vm.ts';

export const CH_API_BASE = '/api/v1';

export const chPing = (): ApiRequest => ({ method: 'GET', path: '/vmm.ping' });
export const chInfo = (): ApiRequest => ({ method: 'GET', path: '/vm.info' });
export const chPowerButton = (): ApiRequest => ({ method: 'PUT', path: '/vm.power-button' });
export const chShutdown = (): ApiRequest => ({ method: 'PUT', path: '/vm.shutdown' });
export const chPause = (): ApiRequest => ({ method: 'PUT', path: '/vm.pause' });
export const chResume = (): ApiRequest => ({ method: 'PUT', path: '/vm.resume' });

/** `vm.snapshot` into a directory (CH writes config.json, state.json and the memory ranges there). */
export function chSnapshot(dir: string): ApiRequest {
  return { method: 'PUT', path: '/vm.snapshot', body: { destination_url: `file://${dir}` } };
}

/** `vm.restore` from a directory; `onDemand` pages memory in lazily (userfaultfd) instead of copying it up front. */
export function chRestore(dir: string, opts: { onDemand?: boolean; resume?: boolean } = {}): ApiRequest {
  return {
    method: 'PUT',
    path: '/vm.restore',
    body: { source_url: `file://${dir}`, ...(opts.onDemand ? { memory_restore_mode: 'OnDemand' } : {}), ...(opts.resume === undefined ? {} : { resume: opts.resume }) },
  };
}

/** `vm.add-net`: hot-plugs a NIC with the same settings as `--net` (`id` names it for `vm.remove-device`). */
export function chAddNet(nic: NetworkConfig, spec: Pick<LaunchSpec, 'cpu' | 'tuning'>, id: string): ApiRequest {
  return {
    method: 'PUT',
    path: '/vm.add-net',
    body: { id, tap: nic.tap, mac: nic.mac, num_queues: 2 * spec.cpu, queue_size: spec.tuning.queue_size, offload_tso: true, offload_ufo: true, offload_csum: true },
  };
}

/** `vm.remove-device` (a NIC to swap on a clone, a hot-plugged disk). */
export function chRemoveDevice(id: string): ApiRequest {
  return { method: 'PUT', path: '/vm.remove-device', body: { id } };
}

/** `vm.add-disk` with the same settings as `--disk`. */
export function chAddDisk(d: LaunchDisk, spec: Pick<LaunchSpec, 'cpu' | 'tuning'>, id: string): ApiRequest {
  const qcow2 = d.format === 'qcow2';
  return {
    method: 'PUT',
    path: '/vm.add-disk',
    body: {
      id,
      path: d.path,
      readonly: d.read_only,
      direct: d.direct,
      sparse: !d.read_only && !qcow2,
      image_type: qcow2 ? 'Qcow2' : 'Raw',
      backing_files: qcow2 && !d.read_only,
      num_queues: spec.cpu,
      queue_size: spec.tuning.disk_queue_size,
      serial: d.serial,
    },
  };
}
