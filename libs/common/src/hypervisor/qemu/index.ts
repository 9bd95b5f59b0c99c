/**
 * The QEMU driver: launches `qemu-system-x86_64` detached and controls it over QMP.
 * NOTE: execa and pino are imported inside the methods that use them, so read-only
 * commands (`vm list`, `vm inspect`) that only call `inspect()` start without them.
 */
import { mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ExternalError, TimeoutError } from '../../errors.ts';
import { escalateStop, logTail, runtimeState, waitUntilReady } from '../launch.ts';
import type { Adoptable, CommandLine, Hypervisor, LaunchPlan, LaunchSpec, RuntimeState, StopOptions, StopOutcome, VmPaths } from '../index.ts';
import { pidBelongsTo } from '../process.ts';
import { qemuCommandLine } from './args.ts';
import { QmpClient } from './qmp.ts';

export class QemuDriver implements Hypervisor, Adoptable {
  readonly kind = 'qemu' as const;

  constructor(private readonly binary = 'qemu-system-x86_64') {}

  commandLine(spec: LaunchSpec): CommandLine {
    return qemuCommandLine(spec, this.binary);
  }

  launchPlan(spec: LaunchSpec): LaunchPlan {
    return { command: this.commandLine(spec), socket: spec.paths.apiSocket, requests: [] };
  }

  /** Not used for QEMU: its agent is reached through vhost-vsock or the serial port pool (`agentPoolDir`). */
  agentSocket(paths: VmPaths): string {
    return paths.agentPoolDir;
  }

  async create(): Promise<void> {}

  async start(spec: LaunchSpec, timeoutMs: number, onSpawned?: (pid: number) => void): Promise<{ pid: number }> {
    const { paths } = spec;
    mkdirSync(paths.runDir, { recursive: true, mode: 0o700 });
    mkdirSync(paths.logDir, { recursive: true, mode: 0o700 });
    // NOTE: the agent's port pool starts empty: no claim, no learned port count from an earlier boot.
    await Promise.all([paths.apiSocket, paths.consoleSocket, paths.pidFile, paths.agentPoolDir].map((f) => rm(f, { force: true, recursive: true })));
    if (spec.vsockCid === null) mkdirSync(paths.agentPoolDir, { mode: 0o700 });
    const cmd = this.commandLine(spec);
    const { spawnDetached } = await import('../../spawn-detached.ts');
    const child = await spawnDetached(cmd.file, cmd.args, paths.hypervisorLog);
    let exited = false;
    void child.exited.then(() => {
      exited = true;
    });
    const pid = child.pid;
    onSpawned?.(pid);
    let qmp: QmpClient | undefined;
    await waitUntilReady({
      pid,
      exited: () => exited,
      ready: async (deadline) => (qmp = await qmpOpen(paths.apiSocket, deadline)) !== undefined,
      marker: paths.apiSocket,
      log: paths.hypervisorLog,
      what: cmd.file,
      timeoutMs,
    });
    try {
      // NOTE: the session that proved QEMU ready sets the balloon's target too (no second QMP connection).
      if (spec.tuning.balloon > 0) await qmp?.execute('balloon', { value: spec.memory - spec.tuning.balloon });
    } finally {
      qmp?.close();
    }
    return { pid };
  }

  async adopt(spec: LaunchSpec, pid: number, timeoutMs: number): Promise<void> {
    const { paths } = spec;
    const deadline = Date.now() + timeoutMs;
    while (!(await qmpAnswers(paths.apiSocket, deadline))) {
      if (!pidBelongsTo(pid, paths.apiSocket)) throw new ExternalError(`QEMU (pid ${pid}) exited while being taken over: ${await logTail(paths.hypervisorLog)}`);
      if (Date.now() >= deadline) throw new TimeoutError(`QEMU (pid ${pid}) did not answer on QMP within ${timeoutMs} ms`);
      await sleep(50);
    }
    // Nothing else to take over: the agent's port pool needs no process beside QEMU.
  }

  async stop(paths: VmPaths, pid: number | null, opts: StopOptions): Promise<StopOutcome> {
    const { log } = await import('../../log.ts');
    return escalateStop({
      pid,
      marker: paths.apiSocket,
      opts,
      graceful: async () => {
        const qmp = await QmpClient.open(paths.apiSocket, 2000);
        try {
          await qmp.execute('system_powerdown');
        } finally {
          qmp.close();
        }
      },
      what: 'QEMU',
      warn: (msg) => log().warn({ pid }, msg),
    });
  }

  inspect(paths: VmPaths, pid: number | null): RuntimeState {
    return runtimeState(paths, pid);
  }

  consoleEndpoint(paths: VmPaths): { kind: 'unix'; path: string } {
    return { kind: 'unix', path: paths.consoleSocket };
  }

  async delete(paths: VmPaths): Promise<void> {
    await Promise.all([paths.apiSocket, paths.consoleSocket, paths.pidFile, paths.agentPoolDir].map((f) => rm(f, { force: true, recursive: true })));
  }
}

/**
 * A QMP session once QEMU answers a command on it, else undefined. NOTE: the capabilities
 * round trip, not just the greeting: QEMU greets a client during its start, before it has
 * created every device, so a QEMU that then fails (a device it cannot open) would look ready.
 * (QEMU's balloon target, set on this session, is the guest's memory, not the balloon's size.)
 */
async function qmpOpen(socket: string, deadline: number): Promise<QmpClient | undefined> {
  try {
    return await QmpClient.open(socket, Math.max(deadline - Date.now(), 100));
  } catch {
    return undefined;
  }
}

async function qmpAnswers(socket: string, deadline: number): Promise<boolean> {
  const qmp = await qmpOpen(socket, deadline);
  qmp?.close();
  return qmp !== undefined;
}

export { QmpClient };
