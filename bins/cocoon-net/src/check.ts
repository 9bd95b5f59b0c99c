/**
 * `cocoon-net check`: is a VM's network still what was set up? The netns is mounted, every
 * TAP exists (inside the netns, or on the host bridge), and the CNI plugins' CHECK passes
 * with the cached ADD results.
 */
import { ExternalError } from '@cocoon/common/errors';
import type { Layout } from '@cocoon/common/layout';
import { netnsMounted, netnsPath } from '@cocoon/common/net/names';
import type { NetRecord } from '@cocoon/common/schemas/net';
import { binDirs, checkList, runtimeConfigOf } from './cni.ts';
import { listLinks } from './links.ts';

/** Throws an ExternalError naming the first thing that is missing or fails CHECK. */
export async function checkNetwork(layout: Layout, rec: NetRecord): Promise<void> {
  const what = `network of VM ${rec.id.slice(0, 12)}`;
  if (rec.state !== 'ready') throw new ExternalError(`${what} is ${rec.state}, not ready`);
  if (rec.backend === 'cni' && !netnsMounted(netnsPath(rec.id))) throw new ExternalError(`${what}: netns ${netnsPath(rec.id)} is gone`);
  const links = await listLinks(rec.backend === 'cni' ? (rec.netns ?? null) : null);
  for (const nic of rec.nics) {
    if (!links.has(nic.tap)) throw new ExternalError(`${what}: TAP ${nic.tap} is gone`);
    if (rec.backend === 'bridge' && links.get(nic.tap)?.master !== rec.bridge_dev) throw new ExternalError(`${what}: TAP ${nic.tap} is not on bridge ${rec.bridge_dev}`);
  }
  if (rec.backend !== 'cni' || !rec.conflist) return;
  const dirs = binDirs(layout.cni.binDir);
  for (const [i, nic] of rec.nics.entries()) {
    if (!nic.result) throw new ExternalError(`${what}: ${nic.if_name} has no cached CNI result`);
    await checkList(rec.conflist, { containerId: rec.id, netns: netnsPath(rec.id), ifName: nic.if_name, runtimeConfig: runtimeConfigOf(rec.publish, i) }, dirs, nic.result);
  }
}
