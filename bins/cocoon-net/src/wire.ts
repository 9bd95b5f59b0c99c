/**
 * TAP + TC redirect, per NIC, as `ip` and `tc` batch lines (one process each for all NICs
 * of a VM): a TAP with `vnet_hdr` (multi-queue when the VM has more than one queue pair)
 * whose MTU is the veth's, the veth's addresses flushed, and an ingress qdisc on both with
 * a u32 match-all filter whose `mirred egress redirect` hands every frame to the other.
 * No bridge in the data path. An egress policy replaces the TAP side's match-all filter.
 *
 * The kernel of the build machines has only the u32 classifier and the mirred action (no
 * gact, police, flower, matchall), so the policy is built from them: what is allowed is
 * redirected; what is not is not redirected and dies in the per-VM netns, which has no
 * addresses and no forwarding. A filter that matches without an action ends the
 * classification (that is how `allow` mode denies). Where the kernel has the gact action,
 * `deny` mode also gets an explicit drop at the end (`dropLines`).
 * NOTE: `match ip dport/sport` reads the port at a fixed offset (an IPv4 header without options).
 */
import { run } from '@cocoon/common/exec';
import type { EgressPolicy, EgressRule, PortMapping } from '@cocoon/common/schemas/net';

/** One NIC to wire: the CNI interface (veth end) and its TAP. */
export interface NicWire {
  ifName: string;
  tap: string;
  /** virtio-net queue pairs: the TAP is multi-queue when > 1. */
  pairs: number;
  mtu: number;
  /** Recovery: the MAC the guest had (set on the new veth, so the guest keeps its MAC). */
  mac?: string;
}

const PROTO = { tcp: 6, udp: 17 } as const;
const CATCH_ALL = 'u32 match u32 0 0';

/** `ip -batch` lines that create and configure the TAPs inside the netns. */
export function ipLines(nics: readonly NicWire[]): string[] {
  const lines = ['link set dev lo up'];
  for (const n of nics) {
    lines.push(`addr flush dev ${n.ifName}`);
    if (n.mac) lines.push(`link set dev ${n.ifName} address ${n.mac}`);
    lines.push(
      `tuntap add dev ${n.tap} mode tap vnet_hdr${n.pairs > 1 ? ' multi_queue' : ''}`,
      `link set dev ${n.tap} mtu ${n.mtu}`,
      `link set dev ${n.ifName} up`,
      `link set dev ${n.tap} up`,
    );
  }
  return lines;
}

/** `tc -batch` lines: ingress qdiscs and the redirect filters (the TAP side per the policy). */
export function tcLines(nics: readonly NicWire[], egress: EgressPolicy | undefined, publish: readonly PortMapping[]): string[] {
  const lines: string[] = [];
  for (const n of nics) {
    lines.push(
      `qdisc add dev ${n.ifName} ingress`,
      `qdisc add dev ${n.tap} ingress`,
      `filter add dev ${n.ifName} parent ffff: protocol all prio 1 ${CATCH_ALL} action mirred egress redirect dev ${n.tap}`,
    );
    lines.push(...tapFilters(n, egress, publish));
  }
  return lines;
}

/** Where gact exists: an explicit drop after the allow-list of `deny` mode (best effort). */
export function dropLines(nics: readonly NicWire[], egress: EgressPolicy | undefined): string[] {
  if (egress?.mode !== 'deny') return [];
  return nics.map((n) => `filter add dev ${n.tap} parent ffff: protocol all prio 65000 ${CATCH_ALL} action drop`);
}

/** The filters on the TAP's ingress (frames the guest sends). */
function tapFilters(n: NicWire, egress: EgressPolicy | undefined, publish: readonly PortMapping[]): string[] {
  const redirect = `action mirred egress redirect dev ${n.ifName}`;
  const filter = (prio: number, proto: string, match: string, action: string) => `filter add dev ${n.tap} parent ffff: protocol ${proto} prio ${prio} ${match}${action ? ` ${action}` : ''}`;
  if (!egress) return [filter(1, 'all', CATCH_ALL, redirect)];
  const matches = egress.rules.flatMap(ruleMatches);
  if (egress.mode === 'allow') {
    // Denied destinations match first and end the classification without a redirect.
    return [...matches.map((m, i) => filter(1 + i, 'ip', m, 'classid 1:1')), filter(1 + matches.length, 'all', CATCH_ALL, redirect)];
  }
  const allowed = [
    ...matches,
    // The NIC's own DHCP, and replies from the guest's published ports (the filter is stateless).
    `u32 match ip protocol ${PROTO.udp} 0xff match ip sport 68 0xffff match ip dport 67 0xffff`,
    ...publish.map((p) => `u32 match ip protocol ${PROTO[p.protocol]} 0xff match ip sport ${p.container_port} 0xffff`),
  ];
  return [filter(1, 'arp', CATCH_ALL, redirect), ...allowed.map((m, i) => filter(2 + i, 'ip', m, redirect))];
}

/** u32 matches of one rule (a port without a protocol matches TCP and UDP). */
function ruleMatches(rule: EgressRule): string[] {
  const dst = `u32 match ip dst ${rule.cidr}`;
  if (rule.port === undefined && rule.protocol === undefined) return [dst];
  const protos = rule.protocol ? [rule.protocol] : (['tcp', 'udp'] as const);
  return protos.map((p) => `${dst} match ip protocol ${PROTO[p]} 0xff${rule.port === undefined ? '' : ` match ip dport ${rule.port} 0xffff`}`);
}

/** Runs `ip` (or `tc`) with `lines` as one batch, inside netns `netns` (or the current one). */
export async function runBatch(tool: 'ip' | 'tc', netns: string | null, lines: readonly string[]): Promise<void> {
  if (lines.length === 0) return;
  await run(tool, [...(netns ? ['-n', netns] : []), '-batch', '-'], { input: `${lines.join('\n')}\n` });
}
