/** Reading links with `ip -j` (MACs and MTUs of the CNI interfaces, the kind of a bridge). */
import { z } from 'zod';
import { run } from '@cocoon/common/exec';
import { UsageError } from '@cocoon/common/errors';
import { IpLinkSchema, type IpLink } from '@cocoon/common/schemas/net';
import { runBatch } from './wire.ts';

/** Every link of netns `netns` (or of the current netns), by name. */
export async function listLinks(netns: string | null): Promise<Map<string, IpLink>> {
  const { stdout } = await run('ip', [...(netns ? ['-n', netns] : []), '-j', 'link', 'show']);
  const links = z.array(IpLinkSchema).parse(JSON.parse(stdout));
  return new Map(links.map((l) => [l.ifname, l]));
}

/** The bridge `dev` of the current netns; a usage error when it does not exist or is not a bridge. */
export async function requireBridge(dev: string): Promise<IpLink> {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(dev)) throw new UsageError(`--bridge: "${dev}" is not a network device name`);
  let stdout: string;
  try {
    ({ stdout } = await run('ip', ['-j', '-d', 'link', 'show', 'dev', dev]));
  } catch {
    throw new UsageError(`--bridge: there is no network device "${dev}"; create the bridge first (ip link add ${dev} type bridge)`);
  }
  const [link] = z.array(IpLinkSchema).parse(JSON.parse(stdout));
  const kind = link?.linkinfo?.info_kind;
  if (!link || kind !== 'bridge') throw new UsageError(`--bridge: "${dev}" is not a bridge (it is ${kind ? `a ${kind} device` : 'a plain device'})`);
  return link;
}

/** Deletes host TAPs, ignoring the ones already gone. */
export async function deleteTaps(taps: readonly string[]): Promise<string[]> {
  const links = await listLinks(null);
  const errors: string[] = [];
  for (const tap of taps.filter((t) => links.has(t))) {
    await runBatch('ip', null, [`link del dev ${tap}`]).catch((err: Error) => errors.push(err.message));
  }
  return errors;
}
