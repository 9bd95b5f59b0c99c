/**
 * Parsing of the network policy flags of `vm create/run`: `-p/--publish` and
 * `--egress`/`--egress-rule`. Bad input is a UsageError naming the flag and the form.
 */
import { isIPv4 } from 'node:net';
import { UsageError } from '../errors.ts';
import type { EgressPolicy, EgressRule, PortMapping } from '../schemas/net.ts';

const PUBLISH_FORM = '[IP:]HOST:GUEST[/tcp|udp], e.g. 8080:80 or 127.0.0.1:5353:53/udp';
const RULE_FORM = 'CIDR[:PORT[/tcp|udp]], e.g. 10.0.0.0/8, 198.18.0.5:443/tcp';

/** Parses a port number (1–65535) or returns null. */
function port(text: string | undefined): number | null {
  if (text === undefined || !/^\d{1,5}$/.test(text)) return null;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : null;
}

/** `-p [IP:]HOST:GUEST[/tcp|udp]` → a port mapping (IPv4 host addresses). */
export function parsePublish(spec: string): PortMapping {
  const bad = (why: string) => new UsageError(`-p/--publish: "${spec}" ${why} (want ${PUBLISH_FORM})`);
  const [ports, proto = 'tcp', extra] = spec.split('/');
  if (extra !== undefined || (proto !== 'tcp' && proto !== 'udp')) throw bad('has an unknown protocol');
  const parts = (ports ?? '').split(':');
  if (parts.length < 2 || parts.length > 3) throw bad('is not of the form');
  const [hostIp, hostText, guestText] = parts.length === 3 ? parts : [undefined, ...parts];
  if (hostIp !== undefined && !isIPv4(hostIp)) throw bad(`has "${hostIp}", which is not an IPv4 address`);
  const hostPort = port(hostText);
  const guestPort = port(guestText);
  if (hostPort === null || guestPort === null) throw bad('has a port outside 1-65535');
  return { ...(hostIp === undefined ? {} : { host_ip: hostIp }), host_port: hostPort, container_port: guestPort, protocol: proto };
}

/** `--egress-rule CIDR[:PORT[/tcp|udp]]` → a rule (IPv4; a bare address is /32). */
export function parseEgressRule(spec: string): EgressRule {
  const bad = (why: string) => new UsageError(`--egress-rule: "${spec}" ${why} (want ${RULE_FORM})`);
  const m = /^([0-9.]+)(?:\/(\d{1,2}))?(?::(\d+)(?:\/([a-z]+))?)?$/.exec(spec);
  if (!m) throw bad('is not of the form');
  const [, ip, prefixText, portText, proto] = m;
  if (!ip || !isIPv4(ip)) throw bad(`has "${ip}", which is not an IPv4 address`);
  const prefix = prefixText === undefined ? 32 : Number(prefixText);
  if (prefix > 32) throw bad('has a prefix longer than 32');
  if (proto !== undefined && proto !== 'tcp' && proto !== 'udp') throw bad(`has the unknown protocol "${proto}"`);
  const rule: EgressRule = { cidr: `${ip}/${prefix}` };
  if (portText !== undefined) {
    const p = port(portText);
    if (p === null) throw bad('has a port outside 1-65535');
    rule.port = p;
  }
  if (proto !== undefined) rule.protocol = proto;
  return rule;
}

/** `--egress` and `--egress-rule`s → the policy, or undefined when neither is given. */
export function parseEgress(mode: string | undefined, rules: readonly string[]): EgressPolicy | undefined {
  if (mode === undefined && rules.length === 0) return undefined;
  if (mode !== undefined && mode !== 'allow' && mode !== 'deny') throw new UsageError(`--egress: "${mode}" is not one of allow, deny`);
  if (mode === undefined) throw new UsageError('--egress-rule needs --egress allow (the rules are denied) or --egress deny (only the rules are allowed)');
  return { mode, rules: rules.map(parseEgressRule) };
}

/** Two mappings collide when they share protocol and host port, and their host addresses overlap. */
export function publishCollides(a: PortMapping, b: PortMapping): boolean {
  if (a.protocol !== b.protocol || a.host_port !== b.host_port) return false;
  return a.host_ip === undefined || b.host_ip === undefined || a.host_ip === b.host_ip || a.host_ip === '0.0.0.0' || b.host_ip === '0.0.0.0';
}

/** `-p` as given back (for messages and `inspect`): `[IP:]HOST:GUEST/PROTO`. */
export function formatPublish(p: PortMapping): string {
  return `${p.host_ip ? `${p.host_ip}:` : ''}${p.host_port}:${p.container_port}/${p.protocol}`;
}
