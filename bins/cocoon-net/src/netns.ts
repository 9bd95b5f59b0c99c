/**
 * Per-VM network namespaces, made and removed with `ip netns` so they are ordinary named
 * namespaces (`/var/run/netns/cocoon-<id>`) that `ip -n`, `nsenter --net` and every CNI
 * plugin understand.
 *
 * NOTE: a named netns is a bind mount; it outlives this command only when this process
 * shares the host's mount namespace. Under `ip netns exec` (which gives the command a
 * private mount namespace) the mount would vanish on exit, so the tests switch only the
 * network namespace (`nsenter --net=…`) to run cocoon inside a host-playing namespace.
 */
import { statSync } from 'node:fs';
import { run } from '@cocoon/common/exec';

/** Creates the named netns `name` (its loopback is set up with the TAPs, in the same batch). */
export async function createNetns(name: string): Promise<void> {
  await run('ip', ['netns', 'add', name]);
}

/** Removes the named netns `name`; a netns that is already gone is not an error. */
export async function deleteNetns(name: string, path = `/var/run/netns/${name}`): Promise<void> {
  if (!exists(path)) return;
  await run('ip', ['netns', 'del', name]);
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}
