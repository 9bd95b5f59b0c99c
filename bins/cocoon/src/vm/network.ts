/**
 * A VM's network, as the front end sees it: the flags of `vm create/run` checked before
 * anything is made, and the three calls other commands make (`vm create`, `vm start`,
 * `vm rm`, and later `vm clone`): `setupNetwork(vm) → network_configs`, `recoverNetwork(vm)`
 * and `teardownNetwork(vm)`. The work itself is `cocoon-net`'s (JSON on stdio).
 */
import { UsageError } from '@cocoon/common/errors';
import type { Layout } from '@cocoon/common/layout';
import { pickConflist, requirePortMappings } from '@cocoon/common/net/conflist';
import { MAX_NICS, netnsMounted } from '@cocoon/common/net/names';
import { parseEgress, parsePublish } from '@cocoon/common/net/policy';
import type { NetAddRequest } from '@cocoon/common/schemas/net';
import type { NetworkConfig, VmConfig, VmRecord } from '@cocoon/common/schemas/vm';

/** The network asked for on the command line (validated; `nics: 0` means none). */
export interface NetSpec {
  nics: number;
  /** Conflist name, `--network` (the default conflist's name is recorded once chosen). */
  network?: string;
  bridge?: string;
  publish: NonNullable<VmConfig['publish']>;
  egress?: VmConfig['egress'];
}

/** The raw flags. */
export interface NetFlags {
  nics: string;
  network?: string;
  bridge?: string;
  publish: readonly string[];
  egress?: string;
  egressRules: readonly string[];
}

/**
 * Checks the network flags and the CNI configuration they need: a usage error (or "no
 * conflist: run cocoon-doctor check --fix or pass --nics 0") before anything is made.
 */
export function parseNetFlags(flags: NetFlags, layout: Layout): NetSpec {
  const nics = Number(flags.nics);
  if (!/^\d+$/.test(flags.nics) || nics > MAX_NICS) throw new UsageError(`--nics: "${flags.nics}" is out of range (a whole number from 0 to ${MAX_NICS})`);
  const publish = flags.publish.map(parsePublish);
  const egress = parseEgress(flags.egress, flags.egressRules);
  if (flags.bridge !== undefined && flags.network !== undefined) throw new UsageError('--bridge and --network exclude each other: a NIC is either on a host bridge or on a CNI network');
  if (nics === 0) {
    const given = flags.network !== undefined ? '--network' : flags.bridge !== undefined ? '--bridge' : publish.length > 0 ? '-p/--publish' : egress ? '--egress' : null;
    if (given) throw new UsageError(`${given} needs a network interface: drop --nics 0`);
    return { nics: 0, publish: [] };
  }
  if (flags.bridge !== undefined) {
    if (publish.length > 0) throw new UsageError('-p/--publish needs a CNI network (the portmap plugin does the NAT); --bridge has none');
    if (egress) throw new UsageError('--egress needs a CNI network (the policy is enforced in the per-VM netns); --bridge has none');
    return { nics, bridge: flags.bridge, publish };
  }
  const conflist = pickConflist(layout.cni.confDir, flags.network);
  if (publish.length > 0) requirePortMappings(conflist);
  return { nics, network: conflist.name, publish, ...(egress ? { egress } : {}) };
}

/**
 * The `cocoon-net add` request for `vm` (with `existing` NICs: recovery, with the queues they
 * had: a VM grown live has more vCPUs than its NICs have queue pairs).
 */
function request(vm: VmRecord, existing?: NetworkConfig[]): NetAddRequest {
  const c = vm.config;
  return {
    vm_id: vm.id,
    nics: vm.nics,
    cpu: existing?.[0] ? Math.max(1, Math.floor(existing[0].num_queues / 2)) : c.cpu,
    hypervisor: vm.hypervisor,
    ...(c.queue_size ? { queue_size: c.queue_size } : {}),
    ...(c.bridge ? { bridge: c.bridge } : c.network ? { network: c.network } : {}),
    publish: c.publish ?? [],
    ...(c.egress ? { egress: c.egress } : {}),
    ...(existing ? { existing } : {}),
  };
}

/** Sets up the network of a new VM (or a clone): returns its NICs and the conflist used. */
export async function setupNetwork(layout: Layout, vm: VmRecord): Promise<{ network?: string; network_configs: NetworkConfig[] }> {
  const { netAdd } = await import('@cocoon/common/net/client');
  return netAdd(layout, request(vm));
}

/**
 * Before a start: the network of a VM whose netns (or host TAP) vanished, e.g. after a host
 * reboot, is made again with the same MACs and IPs. Returns the NICs when it recovered them.
 */
export async function recoverNetwork(layout: Layout, vm: VmRecord): Promise<NetworkConfig[] | null> {
  const nics = vm.network_configs ?? [];
  if (nics.length === 0 || (await networkIntact(nics))) return null;
  const { netAdd } = await import('@cocoon/common/net/client');
  const { network_configs } = await netAdd(layout, request(vm, nics));
  return network_configs;
}

async function networkIntact(nics: NetworkConfig[]): Promise<boolean> {
  const cni = nics.find((n) => n.backend !== 'bridge' && n.netns_path);
  if (cni?.netns_path) return netnsMounted(cni.netns_path);
  const { run } = await import('@cocoon/common/exec');
  for (const n of nics) {
    // NOTE: `ip`, not /sys/class/net: sysfs may show another netns than the one cocoon runs in.
    if (!(await run('ip', ['link', 'show', 'dev', n.tap]).then(() => true, () => false))) return false;
  }
  return true;
}

/** Tears down a VM's network; what could not be undone is returned (the networks index keeps it for gc). */
export async function teardownNetwork(layout: Layout, vm: Pick<VmRecord, 'id' | 'nics'>): Promise<string[]> {
  if (vm.nics === 0) return [];
  const { netDel } = await import('@cocoon/common/net/client');
  const r = await netDel(layout, [vm.id]);
  return r.failed.map((f) => f.error);
}

/** Kernel command line of the NICs (direct boot): `net.ifnames=0` and one `ip=` per static NIC. */
export function networkCmdline(nics: readonly NetworkConfig[], hostname: string, dns: readonly string[]): string[] {
  if (nics.length === 0) return [];
  const servers = dns.slice(0, 2);
  return [
    'net.ifnames=0',
    ...nics.flatMap((n, i) => {
      const a = n.network;
      if (!a?.ip) return [];
      return [`ip=${[a.ip, '', a.gateway ?? '', netmask(a.prefix ?? 32), hostname, `eth${i}`, 'off', ...servers].join(':')}`];
    }),
  ];
}

/** `24` → `255.255.255.0`. */
export function netmask(prefix: number): string {
  const bits = prefix <= 0 ? 0 : (0xffffffff << (32 - Math.min(prefix, 32))) >>> 0;
  return [24, 16, 8, 0].map((s) => (bits >>> s) & 0xff).join('.');
}
