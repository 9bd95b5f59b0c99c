/** The VM table of `vm list` and `vm status`. */
import type { VmRecord } from '@cocoon/common/schemas/vm';
import { renderTable, timeAgo } from '@cocoon/common/table';
import { formatSize } from '@cocoon/common/units';

export const VM_TABLE_HEADERS = ['ID', 'NAME', 'STATE', 'IP', 'IMAGE', 'CPU', 'MEMORY', 'STORAGE', 'HYPERVISOR', 'CREATED'] as const;

/** The guest addresses of a VM, comma-separated, or `-`. */
export function vmIps(vm: VmRecord): string {
  const ips = (vm.network_configs ?? []).flatMap((n) => (n.network?.ip ? [n.network.ip] : []));
  return ips.length ? ips.join(',') : '-';
}

/** One table row; `state` overrides the record's (e.g. `stopped (stale)`). */
export function vmRow(vm: VmRecord, state: string = vm.state): string[] {
  return [vm.id.slice(0, 12), vm.config.name, state, vmIps(vm), vm.config.image, String(vm.config.cpu), formatSize(vm.config.memory), formatSize(vm.config.storage), vm.hypervisor, timeAgo(vm.created_at)];
}

/** The whole table. */
export function vmTable(rows: string[][]): string {
  return renderTable(VM_TABLE_HEADERS, rows);
}
