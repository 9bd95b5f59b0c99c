/**
 * The per-VM `cocoon-agent relay` of a QEMU VM: QEMU's virtio-serial chardev socket takes
 * one client, so the relay holds it and serves `agent.sock` (the `CONNECT <port>` handshake
 * of Cloud Hypervisor and Firecracker) to any number of `cocoon vm exec`s. It is started
 * detached once QMP answers and exits by itself when QEMU closes the serial socket; stop
 * and rm still end it (PID verified first) so nothing is left behind.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { VmPaths } from '../index.ts';
import { processArgv, waitForExit } from '../process.ts';

const STOP_GRACE_MS = 2000;

/** Where the relay's PID is kept, inside the VM's run dir. */
export function relayPidFile(paths: VmPaths): string {
  return join(paths.runDir, 'agent-relay.pid');
}

/** Whether `pid` is this VM's relay: alive, started as `relay` and serving its agent.sock. */
export function isVmRelay(pid: number, paths: VmPaths): boolean {
  const argv = processArgv(pid);
  return argv !== null && argv.includes('relay') && argv.includes(paths.agentSocket);
}

/**
 * Starts the relay detached (own session, log in the VM's log dir). A missing
 * `cocoon-agent` only costs `vm exec`: the VM runs anyway, with a warning.
 */
export async function startRelay(paths: VmPaths): Promise<number | null> {
  const { log } = await import('../../log.ts');
  await stopRelay(paths);
  const { findTool } = await import('../../tools.ts');
  let file: string;
  try {
    file = findTool('cocoon-agent');
  } catch (err) {
    log().warn({ err: (err as Error).message }, 'no cocoon-agent beside cocoon: "vm exec" will not reach this VM');
    return null;
  }
  const { spawnDetached } = await import('../../exec.ts');
  const args = ['relay', '--serial', paths.agentSerialSocket, '--listen', paths.agentSocket, '--events', paths.eventsSocket];
  try {
    const child = await spawnDetached(file, args, join(paths.logDir, 'agent-relay.log'));
    writeFileSync(relayPidFile(paths), `${child.pid}\n`, { mode: 0o600 });
    return child.pid;
  } catch (err) {
    // The VM itself is up: a relay that cannot start is reported, not fatal.
    log().warn({ err: (err as Error).message }, 'cocoon-agent relay did not start: "vm exec" will not reach this VM');
    return null;
  }
}

/** Ends the VM's relay if one still runs (SIGTERM, then SIGKILL) and removes its files. */
export async function stopRelay(paths: VmPaths): Promise<void> {
  const pid = readPid(relayPidFile(paths));
  if (pid !== null && isVmRelay(pid, paths)) {
    signal(pid, 'SIGTERM');
    if (!(await waitForExit(pid, STOP_GRACE_MS)) && isVmRelay(pid, paths)) {
      signal(pid, 'SIGKILL');
      await waitForExit(pid, STOP_GRACE_MS);
    }
  }
  await Promise.all([relayPidFile(paths), paths.agentSocket].map((f) => rm(f, { force: true })));
}

function readPid(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 1 ? pid : null;
  } catch {
    return null;
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}
