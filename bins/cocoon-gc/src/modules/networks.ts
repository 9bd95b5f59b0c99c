/**
 * Networks: records of the networks index (`<root>/networks/index.json`) whose VM has no
 * record: what a killed `vm create`/`vm rm` or `cocoon-net` left (netns, TAPs, CNI IPAM
 * leases, published ports). cocoon-net undoes them (`cocoon-net del ID`: CNI DEL with the
 * cached results, the netns, the TAPs), after the cycle has released the index locks (it
 * takes the networks lock itself); a VM without a record can never use that network again.
 * Only recorded networks are touched: a netns named like cocoon's that this root's index
 * does not know may belong to another cocoon root on the host.
 */
import { spawn } from '@cocoon/common/exec';
import { ExternalError } from '@cocoon/common/errors';
import { networksIndex } from '@cocoon/common/net/networks';
import type { NetRecord } from '@cocoon/common/schemas/net';
import { findTool } from '@cocoon/common/tools';
import type { GcAction, GcModule } from '../module.ts';

export const networksModule: GcModule<NetRecord[]> = {
  name: 'networks',
  lockFile: (layout) => layout.networks.lock,
  read: ({ layout }) => networksIndex(layout).list(),
  async plan(records, holds, ctx) {
    return records
      .filter((rec) => !holds.vms.has(rec.id))
      .map(
        (rec): GcAction => ({
          module: 'networks',
          kind: 'network',
          target: rec.id,
          bytes: 0,
          reason: `no VM record (network ${rec.state}: ${rec.backend === 'bridge' ? `TAPs on ${rec.bridge_dev ?? 'a bridge'}` : `netns ${rec.netns ?? `cocoon-${rec.id}`}`}, ${rec.nics.length} NIC lease${rec.nics.length === 1 ? '' : 's'})`,
          afterUnlock: true,
          collect: async () => {
            const r = await spawn(findTool('cocoon-net', ctx.toolEnv), ['del', rec.id], { reject: false, argv0: 'cocoon-net', env: { ...ctx.toolEnv, COCOON_TOOL: 'cocoon-net' }, extendEnv: true });
            if (r.exitCode !== 0) throw new ExternalError(`cocoon-net del ${rec.id}: ${String(r.stderr).trim().split('\n').pop() ?? `exit ${r.exitCode}`}`);
          },
        }),
      );
  },
};
