/**
 * Network namespaces for the networking suites. Nothing here touches the machine's own
 * network namespace: each suite makes a namespace that plays the host (`cnet-…`) and runs
 * cocoon in it, plus more `cnet-…` namespaces for far ends; all are removed afterwards.
 *
 * cocoon runs with `nsenter --net=/var/run/netns/<host>`: only the network namespace
 * changes. Under `ip netns exec`, the command would also get a private mount namespace,
 * and the per-VM netns (a bind mount under /var/run/netns) would vanish when it exits.
 *
 * Address plan inside 198.18.0.0/15, so suites never overlap:
 *   198.18.0.0/20   network.test.ts (VM bridge 198.18.1.0/24, far ends 198.18.2.0/24 and 198.18.3.0/24, host bridge 198.18.4.0/24)
 *   198.18.16.0/20  network-faults.test.ts
 *   198.18.32.0/20  snapshot.test.ts (clones on a network: csn-… namespaces)
 *   198.18.64.0/18  bench/net.sh
 *   198.19.0.0/24   scripts/demo.sh
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { z } from 'zod';
import { IpLinkSchema } from '@cocoon/common/schemas/net';
import { BIN, env, type Result } from './cocoon.ts';

/** Runs `argv` in netns `ns` (`ip netns exec`); throws on failure. */
export async function inNs(ns: string, argv: string[], opts: { timeoutMs?: number; reject?: boolean; input?: string } = {}): Promise<Result> {
  const r = await execa('ip', ['netns', 'exec', ns, ...argv], { reject: false, timeout: opts.timeoutMs ?? 60_000, input: opts.input ?? '' });
  const res = { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  if (opts.reject !== false && res.code !== 0) throw new Error(`[${ns}] ${argv.join(' ')} exited ${res.code}: ${res.stderr.trim()}`);
  return res;
}

/** `ip args…` (e.g. `-n NS link add …`); throws on failure. */
export async function ip(...args: string[]): Promise<string> {
  return String((await execa('ip', args)).stdout);
}

/** Makes netns `ns` with its loopback up (removing a leftover of the same name first). */
export async function addNs(ns: string): Promise<void> {
  await execa('ip', ['netns', 'del', ns], { reject: false });
  await ip('netns', 'add', ns);
  await ip('-n', ns, 'link', 'set', 'lo', 'up');
}

/** Removes the namespaces, ignoring the ones already gone. */
export async function delNs(...names: string[]): Promise<void> {
  for (const ns of names) await execa('ip', ['netns', 'del', ns], { reject: false });
}

/** Every named netns. */
export async function netnsList(): Promise<string[]> {
  return (await ip('netns', 'list')).split('\n').map((l) => l.split(' ')[0] ?? '').filter(Boolean);
}

/** The links of netns `ns` (`ip -j -d link show`). */
export async function links(ns: string): Promise<Array<z.infer<typeof IpLinkSchema>>> {
  return z.array(IpLinkSchema).parse(JSON.parse(await ip('-n', ns, '-j', '-d', 'link', 'show')));
}

/**
 * Links far-end netns `far` to `host` with a veth pair: host side `hostIf` with `hostAddr`, far side
 * `farAddr` (both CIDR) and a default route back through the host side.
 */
export async function linkFarEnd(host: string, far: string, hostIf: string, hostAddr: string, farAddr: string): Promise<void> {
  await ip('-n', host, 'link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', far);
  await ip('-n', host, 'addr', 'add', hostAddr, 'dev', hostIf);
  await ip('-n', host, 'link', 'set', hostIf, 'up');
  await ip('-n', far, 'addr', 'add', farAddr, 'dev', 'eth0');
  await ip('-n', far, 'link', 'set', 'eth0', 'up');
  await ip('-n', far, 'route', 'add', 'default', 'via', hostAddr.split('/')[0] as string);
}

/** Writes a bridge + host-local (+ portmap) conflist into `dir`; leases go to `<dir>/ipam`. */
export function writeConflist(dir: string, o: { name: string; bridge: string; subnet: string; portmap?: boolean; plugins?: object[] }): string {
  mkdirSync(dir, { recursive: true });
  const plugins = o.plugins ?? [
    { type: 'bridge', bridge: o.bridge, isGateway: true, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet: o.subnet }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: join(dir, 'ipam') } },
    ...(o.portmap === false ? [] : [{ type: 'portmap', capabilities: { portMappings: true } }]),
  ];
  const file = join(dir, `10-${o.name}.conflist`);
  writeFileSync(file, JSON.stringify({ cniVersion: '1.0.0', name: o.name, plugins }, null, 2));
  return file;
}

/** Runs `dist/bin/cocoon args…` inside netns `ns` (network namespace only) with the e2e root. */
export async function cocoonIn(ns: string, args: string[], extraEnv: Record<string, string> = {}, timeoutMs = 600_000): Promise<Result> {
  const r = await execa('nsenter', [`--net=/var/run/netns/${ns}`, '--', join(BIN, 'cocoon'), ...args], { env: { ...env, ...extraEnv }, reject: false, timeout: timeoutMs, input: '' });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Like cocoonIn, but requires exit 0 and returns stdout. */
export async function okIn(ns: string, args: string[], extraEnv: Record<string, string> = {}, timeoutMs?: number): Promise<string> {
  const r = await cocoonIn(ns, args, extraEnv, timeoutMs);
  if (r.code !== 0) throw new Error(`[${ns}] cocoon ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}
