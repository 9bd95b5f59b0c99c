/**
 * The QEMU driver: launches `qemu-system-x86_64` detached and controls it over QMP.
 * NOTE: execa and pino are imported inside the methods that use them, so read-only
 * commands (`vm list`, `vm inspect`) that only call `inspect()` start without them.
 */
import { mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ExternalError, TimeoutError } from '../../errors.ts';
import { escalateStop, KILL_GRACE_MS, logTail, runtimeState, waitUntilReady } from '../launch.ts';
import type { Adoptable, CommandLine, Hypervisor, LaunchPlan, LaunchSpec, RuntimeState, StopOptions, StopOutcome, VmPaths } from '../index.ts';
import { pidBelongsTo, signalIfOwned, vmProcesses, waitForExit } from '../process.ts';
import { isVmRelay, startRelay, stopRelay } from './agent-relay.ts';
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

  agentSocket(paths: VmPaths): string {
    return paths.agentSocket;
  }

  async create(): Promise<void> {}

  async start(spec: LaunchSpec, timeoutMs: number): Promise<{ pid: number }> {
    const { paths } = spec;
    mkdirSync(paths.runDir, { recursive: true, mode: 0o700 });
    mkdirSync(paths.logDir, { recursive: true, mode: 0o700 });
    await Promise.all([paths.apiSocket, paths.consoleSocket, paths.agentSerialSocket, paths.eventsSocket, paths.pidFile].map((f) => rm(f, { force: true })));
    const cmd = this.commandLine(spec);
    const { spawnDetached } = await import('../../exec.ts');
    const child = await spawnDetached(cmd.file, cmd.args, paths.hypervisorLog);
    let exited = false;
    void child.exited.then(() => {
      exited = true;
    });
    const pid = child.pid;
    await waitUntilReady({
      pid,
      exited: () => exited,
      ready: (deadline) => qmpAnswers(paths.apiSocket, deadline),
      marker: paths.apiSocket,
      log: paths.hypervisorLog,
      what: cmd.file,
      timeoutMs,
    });
    if (spec.tuning.balloon > 0) await setBalloonTarget(paths.apiSocket, spec.memory - spec.tuning.balloon);
    // QEMU made the virtio-serial chardev before QMP answered: the relay can hold it now.
    await startRelay(paths);
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
    // A relay its killed starter left without a pid file would hold the serial socket: end it.
    const stray = vmProcesses(paths.runDir).filter((p) => isVmRelay(p.pid, paths) && signalIfOwned(p.pid, paths.agentSocket, 'SIGKILL'));
    for (const p of stray) await waitForExit(p.pid, KILL_GRACE_MS);
    await startRelay(paths);
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
    // The relay exits with QEMU; one that did not (or a stale one) is ended here.
    await stopRelay(paths);
    await Promise.all([paths.apiSocket, paths.consoleSocket, paths.agentSerialSocket, paths.agentSocket, paths.eventsSocket, paths.pidFile].map((f) => rm(f, { force: true })));
  }
}

/** Asks the balloon to leave the guest `bytes` (QEMU's balloon target is the guest's memory, not the balloon's size). */
async function setBalloonTarget(socket: string, bytes: number): Promise<void> {
  const qmp = await QmpClient.open(socket, 5000);
  try {
    await qmp.execute('balloon', { value: bytes });
  } finally {
    qmp.close();
  }
}

async function qmpAnswers(socket: string, deadline: number): Promise<boolean> {
  try {
    (await QmpClient.open(socket, Math.max(deadline - Date.now(), 100))).close();
    return true;
  } catch {
    return false;
  }
}


export { QmpClient };
