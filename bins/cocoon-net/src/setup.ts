/**
 * `cocoon-net add`: a VM's network, CNI mode (per-VM netns, the conflist's plugins per NIC,
 * TAP + TC redirect) or bridge mode (TAPs on a host bridge). The networks index record is
 * written first; any failure undoes what was made (CNI DEL, netns, TAPs, record) before the
 * error is reported. With `existing` NICs it recovers a VM whose netns vanished: the old
 * leases are released and the same IPs (`CNI_ARGS IP=`) and MACs are asked for again.
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { z } from 'zod';
import { ExternalError, InvalidDataError, UsageError } from '@cocoon/common/errors';
import type { Layout } from '@cocoon/common/layout';
import { pickConflist, requirePortMappings } from '@cocoon/common/net/conflist';
import { bridgeTapName, DEFAULT_QUEUE_SIZE, netnsName, netnsPath, numQueues, queuePairs, randomMac, tapName } from '@cocoon/common/net/names';
import type { CniConflist, CniResult, NetAddResult, NetRecord } from '@cocoon/common/schemas/net';
import { NetAddRequestSchema } from '@cocoon/common/schemas/net';
import type { NetworkConfig } from '@cocoon/common/schemas/vm';
import { addList, binDirs, delList, requirePlugins, runtimeConfigOf, type CniTarget } from './cni.ts';
import { deleteTaps, listLinks, requireBridge } from './links.ts';
import { createNetns, deleteNetns } from './netns.ts';
import { dropRecord, patchRecord, reserve } from './record.ts';
import { teardownCni } from './teardown.ts';
import { dropLines, ipLines, runBatch, tcLines, type NicWire } from './wire.ts';

type Request = ReturnType<typeof NetAddRequestSchema.parse>;

/** Sets up the network `req` asks for and returns the VM's NICs. */
export async function addNetwork(layout: Layout, input: unknown): Promise<NetAddResult> {
  const parsed = NetAddRequestSchema.safeParse(input);
  if (!parsed.success) throw new InvalidDataError(`the request on stdin is not a network request: ${z.prettifyError(parsed.error).split('\n').join('; ')}`);
  const req = parsed.data;
  if (req.bridge !== undefined) {
    if (req.network !== undefined) throw new UsageError('--bridge and --network exclude each other: a NIC is either on a host bridge or on a CNI network');
    if (req.publish.length > 0) throw new UsageError('-p/--publish needs a CNI network (the portmap plugin does the NAT); bridge mode has none');
    if (req.egress) throw new UsageError('--egress needs a CNI network (the policy is enforced in the per-VM netns); bridge mode has none');
    return addBridge(layout, req, req.bridge);
  }
  return addCni(layout, req);
}

function newRecord(req: Request, fields: Pick<NetRecord, 'backend' | 'nics'> & Partial<NetRecord>): NetRecord {
  const now = new Date().toISOString();
  return { id: req.vm_id, state: 'setting-up', publish: req.publish, ...(req.egress ? { egress: req.egress } : {}), created_at: now, updated_at: now, ...fields };
}

async function addCni(layout: Layout, req: Request): Promise<NetAddResult> {
  const list = pickConflist(layout.cni.confDir, req.network);
  if (req.publish.length > 0) requirePortMappings(list);
  const dirs = binDirs(layout.cni.binDir);
  requirePlugins(list, dirs);
  const id = req.vm_id;
  const ns = netnsName(id);
  const nics = Array.from({ length: req.nics }, (_, i) => ({ if_name: `eth${i}`, tap: tapName(id, i) }));
  const old = await reserve(layout, newRecord(req, { backend: 'cni', netns: ns, conflist: list, nics }), req.existing !== undefined);
  // Recovery: release what the lost netns held (leases, portmap rules) before asking again.
  if (old) await teardownCni(old, dirs);
  else if (req.existing) await deleteNetns(ns);
  const added: Array<{ target: CniTarget; result?: CniResult }> = [];
  try {
    await createNetns(ns);
    const results: CniResult[] = [];
    for (const [i, nic] of nics.entries()) {
      const recorded = req.existing?.[i]?.network?.ip;
      // NOTE: only a well-formed address reaches CNI_ARGS (a ';' would smuggle in another argument).
      const ip = recorded && isIP(recorded) ? recorded : undefined;
      const target: CniTarget = { containerId: id, netns: netnsPath(id), ifName: nic.if_name, ...(ip ? { args: `IgnoreUnknown=1;IP=${ip}` } : {}), runtimeConfig: runtimeConfigOf(req.publish, i) };
      const entry: { target: CniTarget; result?: CniResult } = { target };
      added.push(entry);
      entry.result = await addList(list, target, dirs);
      results.push(entry.result);
    }
    const configs = await wireNics(req, ns, nics, results);
    await patchRecord(layout, id, { state: 'ready', nics: nics.map((n, i) => ({ ...n, mac: configs[i]?.mac, ip: configs[i]?.network?.ip, result: results[i] })) });
    return { network: list.name, network_configs: configs };
  } catch (err) {
    await rollbackCni(layout, id, list, dirs, added);
    throw err;
  }
}

/** TAP + TC redirect for every NIC, in one `ip` and one `tc` batch; returns the NIC records. */
async function wireNics(req: Request, ns: string, nics: Array<{ if_name: string; tap: string }>, results: CniResult[]): Promise<NetworkConfig[]> {
  const links = await listLinks(ns);
  const pairs = queuePairs(req.cpu, req.hypervisor);
  const wires: NicWire[] = nics.map((n, i) => {
    const link = links.get(n.if_name);
    if (!link?.address) throw new ExternalError(`CNI network made no interface ${n.if_name} in ${ns} (the plugins reported success)`);
    const mac = req.existing?.[i]?.mac;
    // The veth gets the recorded MAC back; the cached result says so too (CHECK compares them).
    if (mac) for (const intf of results[i]?.interfaces ?? []) if (intf.name === n.if_name) intf.mac = mac;
    return { ifName: n.if_name, tap: n.tap, pairs, mtu: link.mtu, ...(mac ? { mac } : {}) };
  });
  await runBatch('ip', ns, ipLines(wires));
  await runBatch('tc', ns, tcLines(wires, req.egress, req.publish));
  // NOTE: an explicit drop only where the kernel has the gact action; without it, what is not redirected dies unrouted.
  await runBatch('tc', ns, dropLines(wires, req.egress)).catch(() => undefined);
  return nics.map((n, i): NetworkConfig => {
    const network = addressOf(results[i]);
    return {
      tap: n.tap,
      mac: (wires[i]?.mac ?? links.get(n.if_name)?.address ?? '').toLowerCase(),
      num_queues: numQueues(pairs),
      queue_size: req.queue_size ?? DEFAULT_QUEUE_SIZE,
      backend: 'cni',
      netns_path: netnsPath(req.vm_id),
      ...(network ? { network } : {}),
    };
  });
}

async function rollbackCni(layout: Layout, id: string, list: CniConflist, dirs: string[], added: Array<{ target: CniTarget; result?: CniResult }>): Promise<void> {
  for (const a of [...added].reverse()) await delList(list, a.target, dirs, a.result);
  await deleteNetns(netnsName(id)).catch(() => undefined);
  await dropRecord(layout, id).catch(() => undefined);
}


/** The guest address of a NIC: the first IPv4 address of the CNI result. */
export function addressOf(result: CniResult | undefined): NetworkConfig['network'] | undefined {
  const ip = result?.ips?.find((x) => !x.address.includes(':'));
  if (!ip) return undefined;
  const [address, prefix] = ip.address.split('/');
  return { ip: address, prefix: Number(prefix), ...(ip.gateway ? { gateway: ip.gateway } : {}) };
}

async function addBridge(layout: Layout, req: Request, dev: string): Promise<NetAddResult> {
  const bridge = await requireBridge(dev);
  const id = req.vm_id;
  const pairs = queuePairs(req.cpu, req.hypervisor);
  const nics = Array.from({ length: req.nics }, (_, i) => ({ if_name: `eth${i}`, tap: bridgeTapName(id, i), mac: req.existing?.[i]?.mac ?? randomMac(randomBytes(6)) }));
  const old = await reserve(layout, newRecord(req, { backend: 'bridge', bridge_dev: dev, nics }), req.existing !== undefined);
  if (old) await deleteTaps(old.nics.map((n) => n.tap));
  try {
    await runBatch(
      'ip',
      null,
      nics.flatMap((n) => [
        `tuntap add dev ${n.tap} mode tap vnet_hdr${pairs > 1 ? ' multi_queue' : ''}`,
        `link set dev ${n.tap} mtu ${bridge.mtu}`,
        `link set dev ${n.tap} master ${dev}`,
        `link set dev ${n.tap} up`,
      ]),
    );
    await patchRecord(layout, id, { state: 'ready' });
  } catch (err) {
    await deleteTaps(nics.map((n) => n.tap));
    await dropRecord(layout, id).catch(() => undefined);
    throw err;
  }
  const configs = nics.map((n): NetworkConfig => ({ tap: n.tap, mac: n.mac, num_queues: numQueues(pairs), queue_size: req.queue_size ?? DEFAULT_QUEUE_SIZE, backend: 'bridge', bridge_dev: dev }));
  return { network_configs: configs };
}
