/**
 * The guest-agent channel of a QEMU VM on a host without /dev/vhost-vsock: a small pool
 * of virtio-serial ports, each one chardev socket QEMU serves to one client at a time.
 * No cocoon process stays beside QEMU: a `vm exec` claims a free port under a kernel
 * lock (which dies with it), talks to the agent directly, and gives the port back.
 *
 * Per port k, in `<run>/agent/`:
 *   k.sock   QEMU's chardev socket of the port (`org.cocoon.agent`, `org.cocoon.agent.k`)
 *   k.qmp    an event-only QMP monitor for the holder of port k: a serial port shows the
 *            host no hang-up, so VSERPORT_CHANGE is how a client learns the agent died
 *   k.lock   the claim: flock, and "busy" written inside while a session runs, so the
 *            next client knows its predecessor died mid-session (and pads: codec.ts)
 *   ports    how many ports the guest's agent serves (an agent older than the pool serves
 *            port 0 only), written by the first client that learns it from `started`
 */
import { fstatSync, readFileSync, renameSync, writeFileSync, writeSync, ftruncateSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { BusyError } from '../../errors.ts';
import { AGENT_SERIAL_NAME } from '../../schemas/agent.ts';
import { tryLock } from '../../store/lock.ts';
import { MAX_DATA_BYTES } from '../../agent/codec.ts';

/** Ports per VM: up to this many `vm exec` run at once; the next waits for one. */
export const AGENT_POOL_PORTS = 8;
/** How long a client waits for a free port before failing with "busy" (exit 5). */
export const PORT_WAIT_MS = 10_000;
/** Spaces a client sends when its predecessor died mid-frame: more than any frame it could be inside. */
export const DIRTY_PAD = MAX_DATA_BYTES + 16;

/** Files of the pool in its folder (`VmPaths.agentPoolDir`: `<run>/agent`). */
export function agentPool(dir: string) {
  return {
    dir,
    socket: (k: number) => `${dir}/${k}.sock`,
    events: (k: number) => `${dir}/${k}.qmp`,
    lock: (k: number) => `${dir}/${k}.lock`,
    portsFile: `${dir}/ports`,
  };
}
export type AgentPool = ReturnType<typeof agentPool>;

/** The guest name of port k (`/dev/virtio-ports/<name>`). */
export function agentPortName(k: number): string {
  return k === 0 ? AGENT_SERIAL_NAME : `${AGENT_SERIAL_NAME}.${k}`;
}

/** QEMU's device id of port k (named in VSERPORT_CHANGE events). */
export function agentPortId(k: number): string {
  return `agentport${k}`;
}

/** QEMU's chardev id of port k (`query-chardev` labels). */
export function agentChardevId(k: number): string {
  return `agent${k}`;
}

/** How many ports the guest's agent serves: learned from a `started` frame; 1 until then. */
export function servedPorts(pool: AgentPool): number {
  try {
    const n = Number(readFileSync(pool.portsFile, 'utf8').trim());
    return Number.isInteger(n) && n >= 1 ? Math.min(n, AGENT_POOL_PORTS) : 1;
  } catch {
    return 1;
  }
}

/** Records what a `started` frame said (atomically; only when it changes). */
export function recordServedPorts(pool: AgentPool, ports: number): void {
  if (servedPorts(pool) === Math.min(ports, AGENT_POOL_PORTS)) return;
  const tmp = `${pool.portsFile}.${process.pid}`;
  writeFileSync(tmp, `${ports}\n`, { mode: 0o600 });
  renameSync(tmp, pool.portsFile);
}

/** A claimed port. */
export interface PortClaim {
  port: number;
  /** The previous holder died during a session: bytes of it may still be in the port. */
  dirty: boolean;
  /** Gives the port back; `clean` when the session ended normally (the next client need not pad). */
  release(clean: boolean): void;
}

/**
 * Claims a free port of the first `count`, waiting (polling the locks) until `deadline`;
 * then BusyError (5): every port serves a running command.
 */
export async function claimPort(pool: AgentPool, count: number, deadline = Date.now() + PORT_WAIT_MS): Promise<PortClaim> {
  for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
    for (let k = 0; k < count; k++) {
      const lock = tryLock(pool.lock(k));
      if (!lock) continue;
      const dirty = fstatSync(lock.fd).size > 0;
      writeSync(lock.fd, 'busy\n', 0);
      return {
        port: k,
        dirty,
        release: (clean) => {
          if (clean) ftruncateSync(lock.fd, 0);
          lock.release();
        },
      };
    }
    if (Date.now() + delay > deadline) {
      throw new BusyError(`all ${count} agent port${count === 1 ? '' : 's'} of this VM are busy (that many commands are running in it); try again when one ends`);
    }
    await sleep(delay);
  }
}

/** How long a session runs before its client starts watching the port's monitor (short commands never do). */
export const WATCH_AFTER_MS = 300;

/**
 * From `afterMs` on, watches port k's event monitor and calls `gone` once the guest
 * closes the port (its agent died, even by SIGKILL, so it could send nothing). Call it
 * once the agent answered (`started`): a closed port then means a dead agent, not one
 * still booting. Best effort: without the monitor, the session ends with QEMU. Returns
 * the function that stops watching.
 */
export function watchAgentPort(pool: AgentPool, k: number, gone: () => void, afterMs = WATCH_AFTER_MS): () => void {
  let stopped = false;
  let close = () => {};
  const timer = setTimeout(() => {
    void (async () => {
      const [{ QmpClient }, { QmpChardevListSchema, QmpVserportChangeSchema }] = await Promise.all([import('./qmp.ts'), import('../../schemas/qmp.ts')]);
      const qmp = await QmpClient.open(pool.events(k), 5000);
      if (stopped) return qmp.close();
      close = () => qmp.close();
      qmp.onEvent((event) => {
        const change = QmpVserportChangeSchema.safeParse(event.data);
        if (event.event === 'VSERPORT_CHANGE' && change.success && change.data.id === agentPortId(k) && !change.data.open) gone();
      });
      // The port may have closed before the monitor listened: ask once.
      const chardevs = QmpChardevListSchema.parse(await qmp.execute('query-chardev'));
      if (chardevs.find((c) => c.label === agentChardevId(k))?.['frontend-open'] === false) gone();
    })().catch(() => undefined);
  }, afterMs);
  return () => {
    stopped = true;
    clearTimeout(timer);
    close();
  };
}
