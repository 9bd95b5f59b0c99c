/**
 * Logs: per-VM log dirs (`<log_dir>/<id>/`) without a VM record, and rotation of the
 * engine log and of every VM's console and hypervisor logs by the configured size, count
 * and age (`log_max_*`). A running VM's logs are copied and truncated (its hypervisor
 * holds them open, appending); a stopped VM's are renamed under its lock (a `vm start`
 * rotates them too). The log dir may be shared with another cocoon root: only dirs marked
 * with this root (or lying inside it) are ever removed.
 */
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { vmPaths } from '@cocoon/common/hypervisor/index';
import { ENGINE_LOG } from '@cocoon/common/log';
import { generations, rotateLocked, type RotationPolicy } from '@cocoon/common/log-rotate';
import { tryLock } from '@cocoon/common/store/lock';
import { rotateVmLogs } from '@cocoon/common/vm-logs';
import { vmLockFile } from '@cocoon/common/vms';
import { diskBytes, names, type GcAction, type GcContext, type GcModule, type Holds } from '../module.ts';
import { ownedByRoot } from '../owner.ts';

const ID = /^[0-9a-f]{32}$/;

export const logsModule: GcModule<string[]> = {
  name: 'logs',
  lockFile: () => null,
  read: async ({ layout }) => (await names(layout.log)).filter((n) => ID.test(n)),
  async plan(ids, holds, ctx) {
    const actions: GcAction[] = [];
    for (const id of ids) {
      const dir = ctx.layout.vmLogDir(id);
      if (holds.vms.has(id) || !(await ownedByRoot(dir, ctx.layout))) continue;
      actions.push({ module: 'logs', kind: 'log-dir', target: dir, bytes: await diskBytes(dir), reason: 'no VM record', collect: () => rm(dir, { recursive: true, force: true }) });
    }
    const engine = join(ctx.layout.log, ENGINE_LOG);
    if (await due(engine, ctx.rotation)) {
      actions.push({ module: 'logs', kind: 'log', target: engine, bytes: await freed(engine, ctx.rotation), reason: 'rotated (log_max_size, log_max_files, log_max_age)', collect: async () => void rotateLocked(engine, ctx.rotation, { prune: true }) });
    }
    for (const id of ids.filter((i) => holds.vms.has(i))) {
      const action = await vmLogs(id, holds, ctx);
      if (action) actions.push(action);
    }
    return actions;
  },
};

/** Rotation of one VM's console and hypervisor logs, when either is due. */
async function vmLogs(id: string, holds: Holds, ctx: GcContext): Promise<GcAction | null> {
  const paths = vmPaths(ctx.layout, id);
  const files = [paths.consoleLog, paths.hypervisorLog];
  const dueFiles: string[] = [];
  for (const f of files) if (await due(f, ctx.rotation)) dueFiles.push(f);
  if (dueFiles.length === 0) return null;
  let bytes = 0;
  for (const f of dueFiles) bytes += await freed(f, ctx.rotation);
  const live = holds.liveVms.has(id);
  return {
    module: 'logs',
    kind: 'log',
    target: dueFiles.join(' '),
    bytes,
    reason: live ? 'rotated by copy and truncate (the VM runs)' : 'rotated',
    collect: async () => {
      if (live) return void rotateVmLogs(paths, ctx.rotation, true);
      // A stopped VM: under its lock, so a `vm start` (which rotates too) is not racing us.
      const lock = await tryLock(vmLockFile(ctx.layout, id));
      if (!lock) return;
      try {
        rotateVmLogs(paths, ctx.rotation, false);
      } finally {
        lock.release();
      }
    },
  };
}

/** Whether `file` needs rotating, or has generations past the count or age limits. */
async function due(file: string, policy: RotationPolicy): Promise<boolean> {
  const size = (await stat(file).catch(() => null))?.size ?? 0;
  return size > policy.maxBytes || (await expired(file, policy, false)).length > 0;
}

/** Generations that rotation would delete now (over the count once shifted, or too old). */
async function expired(file: string, policy: RotationPolicy, shifting: boolean): Promise<string[]> {
  const out: string[] = [];
  for (const g of generations(file)) {
    const n = Number(g.slice(file.length + 1)) + (shifting ? 1 : 0);
    const mtime = (await stat(g).catch(() => null))?.mtimeMs ?? Date.now();
    if (n > policy.maxFiles || (policy.maxAgeMs > 0 && Date.now() - mtime > policy.maxAgeMs)) out.push(g);
  }
  return out;
}

/** Bytes that rotating `file` now frees (the generations it deletes). */
async function freed(file: string, policy: RotationPolicy): Promise<number> {
  const size = (await stat(file).catch(() => null))?.size ?? 0;
  let bytes = 0;
  for (const g of await expired(file, policy, size > policy.maxBytes)) bytes += await diskBytes(g);
  return bytes;
}
