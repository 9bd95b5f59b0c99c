/**
 * Growing a running QEMU VM over QMP, within the room its launch reserved (hotplug.ts): vCPUs
 * with `device_add` of the slots `query-hotpluggable-cpus` reports free, memory as one DIMM
 * (`object-add` of a RAM backend + `device_add pc-dimm`), NICs with `netdev_add` + `device_add
 * virtio-net-pci` on a spare root port. Then the guest's ACPI acknowledgements (`_OST`, seen in
 * `query-acpi-ospm-status`) say it has taken the vCPUs and memory.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { ExternalError, InvalidStateError, TimeoutError } from '../../errors.ts';
import type { VmHotplug } from '../../schemas/vm.ts';
import type { GrowTarget, LaunchSpec } from '../index.ts';
import { netdevOptions, nicDeviceOptions } from './args.ts';
import { cpuId, dimmBackend, dimmId, dimmMemId, portId } from './hotplug.ts';
import type { QmpClient } from './qmp.ts';
import { withQmp } from './snapshot.ts';

const HotpluggableCpusSchema = z.array(
  z.looseObject({ type: z.string(), props: z.record(z.string(), z.number().int().nonnegative()), 'qom-path': z.string().optional() }),
);
const OspmStatusSchema = z.array(z.looseObject({ device: z.string().optional(), source: z.number().int(), status: z.number().int() }));
/** ACPI `_OST` source event of an insertion (ACPI 6.4, table 6.157). */
const OST_INSERT = 1;

/** Adds what `to` has beyond the VM launched from `spec`, and waits for the guest to take it; returns the updated hotplug record. */
export async function growQemu(spec: LaunchSpec, to: GrowTarget, deadline: number): Promise<VmHotplug> {
  const { hotplug, acked } = await plugQemu(spec, to);
  await withQmp(spec.paths, (qmp) => waitForGuest(qmp, acked, deadline));
  return hotplug;
}

/** Plugs what `to` has beyond the VM launched from `spec`: the new hotplug record, and the ids the guest must acknowledge. */
export async function plugQemu(spec: LaunchSpec, to: GrowTarget): Promise<{ hotplug: VmHotplug; acked: string[] }> {
  const h = spec.tuning.hotplug;
  if (!h) throw new InvalidStateError(`VM "${spec.name}" was launched without room to grow`);
  const next: VmHotplug = { ...h, cpus: [...h.cpus], dimms: [...h.dimms] };
  const acked = await withQmp(spec.paths, async (qmp) => {
    const ids = [...(await addCpus(qmp, spec, next, to.cpu)), ...(await addMemory(qmp, spec, next, to.memory))];
    await addNics(qmp, spec, next, to);
    return ids;
  });
  return { hotplug: next, acked };
}

/** Adds vCPUs up to `want` in the order QEMU's topology lists the free slots; returns their ids. */
async function addCpus(qmp: QmpClient, spec: LaunchSpec, next: VmHotplug, want: number): Promise<string[]> {
  const missing = want - (spec.cpu + next.cpus.length);
  if (missing <= 0) return [];
  const free = HotpluggableCpusSchema.parse(await qmp.execute('query-hotpluggable-cpus'))
    .filter((c) => c['qom-path'] === undefined)
    .sort((a, b) => topologyOrder(a.props, b.props));
  if (free.length < missing) throw new ExternalError(`QEMU has ${free.length} free vCPU slots, ${missing} are needed`);
  const ids: string[] = [];
  for (const slot of free.slice(0, missing)) {
    const id = cpuId(next.cpus.length);
    await qmp.execute('device_add', { driver: slot.type, id, ...slot.props });
    next.cpus.push(slot.props);
    ids.push(id);
  }
  return ids;
}

/** Socket, die, core, thread: the order QEMU numbers vCPUs in. */
function topologyOrder(a: Record<string, number>, b: Record<string, number>): number {
  for (const key of ['node-id', 'socket-id', 'die-id', 'core-id', 'thread-id']) {
    const d = (a[key] ?? 0) - (b[key] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Adds one DIMM with the memory `want` lacks; returns its id. */
async function addMemory(qmp: QmpClient, spec: LaunchSpec, next: VmHotplug, want: number): Promise<string[]> {
  const missing = want - (spec.memory + next.dimms.reduce((a, b) => a + b, 0));
  if (missing <= 0) return [];
  if (next.dimms.length >= next.slots) throw new ExternalError(`VM "${spec.name}" has no free DIMM slot left (${next.slots} used)`);
  const k = next.dimms.length;
  await qmp.execute('object-add', dimmBackend(k, missing, spec.tuning.hugepages));
  await qmp.execute('device_add', { driver: 'pc-dimm', id: dimmId(k), memdev: dimmMemId(k) });
  next.dimms.push(missing);
  return [dimmId(k)];
}

/** Plugs the NICs of `to` beyond the launched ones, each on the next spare root port. */
async function addNics(qmp: QmpClient, spec: LaunchSpec, next: VmHotplug, to: GrowTarget): Promise<void> {
  for (let i = spec.nics.length; i < to.nics.length; i++) {
    const nic = to.nics[i] as (typeof to.nics)[number];
    if (next.nics >= next.ports) throw new ExternalError(`VM "${spec.name}" has no spare PCIe port left for NIC ${i + 1}`);
    await qmp.execute('netdev_add', netdevOptions(spec, nic, i));
    await qmp.execute('device_add', { ...nicDeviceOptions(nic, i), id: `nic${i}`, bus: portId(next.nics) });
    next.nics += 1;
  }
}

/** Waits until the guest acknowledged (ACPI `_OST`) the insertion of every device in `ids`. */
async function waitForGuest(qmp: QmpClient, ids: string[], deadline: number): Promise<void> {
  for (let pending = ids; pending.length > 0; ) {
    const status = OspmStatusSchema.parse(await qmp.execute('query-acpi-ospm-status'));
    pending = pending.filter((id) => {
      const s = status.find((e) => e.device === id);
      if (s && s.source === OST_INSERT && s.status !== 0) throw new ExternalError(`the guest refused the added ${id} (ACPI status ${s.status})`);
      return !(s && s.source === OST_INSERT);
    });
    if (pending.length === 0) return;
    if (Date.now() >= deadline) throw new TimeoutError(`the guest did not take the added ${pending.join(', ')} in time (no ACPI acknowledgement)`);
    await sleep(100);
  }
}
