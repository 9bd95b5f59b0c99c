/**
 * Networking records and messages: CNI conflists and results (as the CNI spec 1.0.0
 * writes them), the VM's network policy (published ports, egress rules), the request and
 * reply of `cocoon-net add`, and the networks index (`<root>/networks/index.json`).
 */
import { z } from 'zod';
import { IdSchema, TimestampSchema } from './common.ts';
import { EgressPolicySchema, PortMappingSchema } from './net-policy.ts';
import { NetworkConfigSchema } from './vm.ts';

export * from './net-policy.ts';

/** One plugin entry of a conflist: `type` names the binary; every other key is the plugin's. */
export const CniPluginConfSchema = z.looseObject({
  type: z.string().regex(/^[A-Za-z0-9._-]+$/, 'a plugin type is a file name'),
  capabilities: z.record(z.string(), z.boolean()).optional(),
});
export type CniPluginConf = z.infer<typeof CniPluginConfSchema>;

/** A network configuration list (`*.conflist`). */
export const CniConflistSchema = z.looseObject({
  cniVersion: z.string().min(1),
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a network name is letters, digits, ".", "_", "-"'),
  disableCheck: z.boolean().optional(),
  plugins: z.array(CniPluginConfSchema).min(1),
});
export type CniConflist = z.infer<typeof CniConflistSchema>;

/** A plugin's result (CNI 1.0.0; 0.3.x/0.4.0 results carry `version` on each IP and parse too). */
export const CniResultSchema = z.looseObject({
  cniVersion: z.string(),
  interfaces: z.array(z.looseObject({ name: z.string(), mac: z.string().optional(), sandbox: z.string().optional() })).optional(),
  ips: z
    .array(
      z.looseObject({
        address: z.string().regex(/^[0-9a-fA-F.:]+\/\d{1,3}$/, 'an address is IP/prefix'),
        gateway: z.string().optional(),
        interface: z.number().int().nonnegative().optional(),
      }),
    )
    .optional(),
  routes: z.array(z.looseObject({ dst: z.string(), gw: z.string().optional() })).optional(),
  dns: z.looseObject({}).optional(),
});
export type CniResult = z.infer<typeof CniResultSchema>;

/** A plugin's error (printed on stdout with a non-zero exit). */
export const CniErrorSchema = z.looseObject({ code: z.number().int(), msg: z.string(), details: z.string().optional() });

/** What `cocoon-net add` reads on stdin. */
export const NetAddRequestSchema = z.object({
  vm_id: IdSchema,
  nics: z.number().int().min(1),
  /** vCPUs: one queue pair each (Firecracker: one pair). */
  cpu: z.number().int().positive(),
  hypervisor: z.string().optional(),
  queue_size: z.number().int().positive().optional(),
  /** Conflist name; absent = the first conflist by file name. */
  network: z.string().optional(),
  /** Bridge mode: TAPs on this host bridge instead of CNI. */
  bridge: z.string().optional(),
  publish: z.array(PortMappingSchema).default([]),
  egress: EgressPolicySchema.optional(),
  /** Recovery: the NICs as recorded; the same MACs and IPs are asked for again. */
  existing: z.array(NetworkConfigSchema).optional(),
});
export type NetAddRequest = z.input<typeof NetAddRequestSchema>;

/** What `cocoon-net add` prints. */
export const NetAddResultSchema = z.object({
  /** The conflist used (absent in bridge mode). */
  network: z.string().optional(),
  network_configs: z.array(NetworkConfigSchema),
});
export type NetAddResult = z.infer<typeof NetAddResultSchema>;

/** One NIC in the networks index: enough to run CNI DEL and remove the TAP later. */
export const NetNicRecordSchema = z.object({
  if_name: z.string(),
  tap: z.string(),
  mac: z.string().optional(),
  ip: z.string().optional(),
  /** The cached result of the ADD chain (the `prevResult` of DEL and CHECK). */
  result: CniResultSchema.optional(),
});

/**
 * One VM's network (`<root>/networks/index.json`, keyed by VM ID). Written BEFORE anything
 * is made (`state: setting-up`) and completed after, so a killed command leaves a record
 * that `cocoon net del` (and `cocoon gc`) can finish: netns, TAPs, CNI leases.
 */
export const NetRecordSchema = z.object({
  id: IdSchema,
  state: z.enum(['setting-up', 'ready', 'tearing-down']),
  backend: z.enum(['cni', 'bridge']),
  /** CNI: the per-VM netns name (`cocoon-<id>`) and the conflist as it was used (DEL needs the same config). */
  netns: z.string().optional(),
  conflist: CniConflistSchema.optional(),
  bridge_dev: z.string().optional(),
  nics: z.array(NetNicRecordSchema),
  publish: z.array(PortMappingSchema),
  egress: EgressPolicySchema.optional(),
  created_at: TimestampSchema,
  updated_at: TimestampSchema,
  /** Why the last teardown left something behind. */
  error: z.string().optional(),
});
export type NetRecord = z.infer<typeof NetRecordSchema>;

/** What `cocoon-net del` prints. */
export const NetDelResultSchema = z.object({
  succeeded: z.array(z.string()),
  /** Per VM: what could not be undone (the record stays for `gc`). */
  failed: z.array(z.object({ id: z.string(), error: z.string() })),
});
export type NetDelResult = z.infer<typeof NetDelResultSchema>;

/** One link of `ip -j [-d] link show` (the keys cocoon reads). */
export const IpLinkSchema = z.looseObject({
  ifname: z.string(),
  address: z.string().optional(),
  mtu: z.number().int().positive(),
  master: z.string().optional(),
  linkinfo: z.looseObject({ info_kind: z.string().optional(), info_data: z.looseObject({}).optional() }).optional(),
});
export type IpLink = z.infer<typeof IpLinkSchema>;
