/**
 * `vm fork`: live copies of a running VM without a daemon: a temporary snapshot (saved by
 * cocoon-snap, so the source is paused only for the save and resumed whatever happens),
 * clones of it, then the snapshot is removed. The source keeps running throughout.
 */
import { randomBytes } from 'node:crypto';
import type { GlobalValues } from '@cocoon/common/globals';
import type { Layout } from '@cocoon/common/layout';
import { SnapshotRecordSchema } from '@cocoon/common/schemas/snapshot';
import type { VmRecord } from '@cocoon/common/schemas/vm';
import { vmIndex } from '@cocoon/common/vms';
import { cloneVms, type CloneRequest } from './clone.ts';
import { runTool } from './run-tool.ts';

export interface ForkRequest extends Pick<CloneRequest, 'count' | 'name' | 'timeoutMs' | 'warn'> {
  vm: string;
}

/** Forks `req.vm` into `req.count` running copies. */
export async function forkVm(layout: Layout, req: ForkRequest, ctx: { env: NodeJS.ProcessEnv; globals: GlobalValues }): Promise<VmRecord[]> {
  const vm = await vmIndex(layout).resolve(req.vm);
  const name = `fork-${vm.config.name}-${randomBytes(4).toString('hex')}`.slice(0, 63);
  const snapshot = SnapshotRecordSchema.parse(JSON.parse(await runTool('cocoon-snap', ['save', '--name', name, '-o', 'json', vm.id], ctx)));
  try {
    return await cloneVms(layout, {
      snapshot: snapshot.id,
      name: req.name,
      count: req.count,
      noDirectIo: false,
      pull: false,
      onDemand: false,
      timeoutMs: req.timeoutMs,
      pullImage: async () => undefined,
      warn: req.warn,
    });
  } finally {
    await runTool('cocoon-snap', ['rm', snapshot.id], ctx);
  }
}
