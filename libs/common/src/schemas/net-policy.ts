/** A VM's network policy: published ports and egress rules (kept in the VM's `config`). */
import { z } from 'zod';

/** `-p [IP:]HOST:GUEST[/tcp|udp]`: the CNI `portMappings` capability, in record form. */
export const PortMappingSchema = z.object({
  host_ip: z.string().optional(),
  host_port: z.number().int().min(1).max(65535),
  container_port: z.number().int().min(1).max(65535),
  protocol: z.enum(['tcp', 'udp']),
});
export type PortMapping = z.infer<typeof PortMappingSchema>;

/** `--egress-rule CIDR[:PORT[/PROTO]]`. */
export const EgressRuleSchema = z.object({
  cidr: z.string(),
  port: z.number().int().min(1).max(65535).optional(),
  protocol: z.enum(['tcp', 'udp']).optional(),
});
export type EgressRule = z.infer<typeof EgressRuleSchema>;

/**
 * `--egress allow|deny` + rules: `deny` lets the guest reach only what the rules list (plus
 * ARP, DHCP and replies from its published ports); `allow` lets it reach all but the rules.
 */
export const EgressPolicySchema = z.object({
  mode: z.enum(['allow', 'deny']),
  rules: z.array(EgressRuleSchema),
});
export type EgressPolicy = z.infer<typeof EgressPolicySchema>;
