/**
 * The QEMU driver: launches `qemu-system-x86_64` detached and controls it over QMP.
 * NOTE: execa and pino are imported inside the methods that use them, so read-only
 * commands (`vm list`, `vm inspect`) that only call `inspect()` start without them.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ExternalError, TimeoutError } from '../../errors.ts';
import { escalateStop, KILL_GRACE_MS, logTail, runtimeState, waitUntilReady } from '../launch.ts';
import type { VmHotplug } from '../../schemas/vm.ts';
import type { Adoptable, CommandLine, GrowTarget, Hypervisor, LaunchPlan, LaunchSpec, LiveGrowable, RestoreChanges, RestoreOptions, RuntimeState, SavedState, SnapshotCapable, StopOptions, StopOutcome, VmPaths } from '../index.ts';
import { pidBelongsTo, signalIfOwned, vmProcesses, waitForExit } from '../process.ts';
import { isVmRelay, startRelay, stopRelay } from './agent-relay.ts';
import { qemuCommandLine } from './args.ts';
import { growQemu } from './grow.ts';
import { MEMORY_BLOCK, qemuHeadroom } from './hotplug.ts';
import { QmpClient } from './qmp.ts';
import { runState, saveQemuState, waitForIncoming, withQmp } from './snapshot.ts';

export class QemuDriver implements Hypervisor, Adoptable, SnapshotCapable, LiveGrowable {
  readonly kind = 'qemu' as const;
  /**
   * A migration stream restores the machine it was saved from: same vCPUs, RAM size and PCI
   * devices; more are hot-added afterwards, within the room the saved launch reserved.
   */
  readonly restoreChanges: RestoreChanges = { cpu: true, memory: true, nics: true, onDemand: false };
  readonly memoryStep = MEMORY_BLOCK;

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
    const { pid } = await this.launch(spec, this.commandLine(spec), timeoutMs);
    if (spec.tuning.balloon > 0) await setBalloonTarget(spec.paths.apiSocket, spec.memory - spec.tuning.balloon);
    // QEMU made the virtio-serial chardev before QMP answered: the relay can hold it now.
    await startRelay(spec.paths);
    return { pid };
  }

  async restore(spec: LaunchSpec, opts: RestoreOptions): Promise<{ pid: number }> {
    const cmd = this.commandLine(spec);
    cmd.args.push('-S', '-incoming', 'fd:3');
    const deadline = Date.now() + opts.timeoutMs;
    // NOTE: opened read-only and handed over as fd 3; QEMU reads the snapshot's file in place.
    const stateFd = openSync(`${opts.dir}/${opts.stateFile}`, 'r');
    let launched: { pid: number; alive: () => boolean };
    try {
      launched = await this.launch(spec, cmd, opts.timeoutMs, [stateFd]);
    } finally {
      closeSync(stateFd);
    }
    // The relay starts while QEMU loads the state (its chardev exists once QMP answers): its
    // own start-up (~0.3 s under TCG) is then off the clone's path, and it holds the serial
    // port before the guest runs again.
    await startRelay(spec.paths);
    try {
      await waitForIncoming(spec.paths, deadline, launched.alive);
    } catch (err) {
      signalIfOwned(launched.pid, spec.paths.apiSocket, 'SIGKILL');
      await waitForExit(launched.pid, KILL_GRACE_MS);
      await stopRelay(spec.paths);
      throw new ExternalError(`${(err as Error).message}: ${await logTail(spec.paths.hypervisorLog)}`);
    }
    return { pid: launched.pid };
  }

  /** Spawns QEMU detached (`extraFds` become its fds 3 …) and waits until QMP answers. */
  private async launch(spec: LaunchSpec, cmd: CommandLine, timeoutMs: number, extraFds: number[] = []): Promise<{ pid: number; alive: () => boolean }> {
    const { paths } = spec;
    mkdirSync(paths.runDir, { recursive: true, mode: 0o700 });
    mkdirSync(paths.logDir, { recursive: true, mode: 0o700 });
    await Promise.all([paths.apiSocket, paths.consoleSocket, paths.agentSerialSocket, paths.eventsSocket, paths.pidFile].map((f) => rm(f, { force: true })));
    const { spawnDetached } = await import('../../exec.ts');
    const child = await spawnDetached(cmd.file, cmd.args, paths.hypervisorLog, extraFds);
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
    return { pid, alive: () => !exited };
  }

  async pause(paths: VmPaths): Promise<void> {
    await withQmp(paths, (qmp) => qmp.execute('stop'));
  }

  async resume(paths: VmPaths): Promise<void> {
    await withQmp(paths, (qmp) => qmp.execute('cont'));
  }

  async isPaused(paths: VmPaths): Promise<boolean> {
    return withQmp(paths, async (qmp) => !(await runState(qmp)).running);
  }

  saveState(paths: VmPaths, dir: string, timeoutMs: number): Promise<SavedState> {
    return saveQemuState(paths, dir, timeoutMs);
  }

  headroom(spec: LaunchSpec): VmHotplug {
    return qemuHeadroom(spec);
  }

  grow(spec: LaunchSpec, to: GrowTarget, deadline: number): Promise<VmHotplug> {
    return growQemu(spec, to, deadline);
  }

  async growDisk(paths: VmPaths, index: number, bytes: number): Promise<void> {
    await withQmp(paths, (qmp) => qmp.execute('block_resize', { 'node-name': `disk${index}`, size: bytes }));
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
          // A paused guest cannot see the power button: let it run first.
          if (!(await runState(qmp)).running) await qmp.execute('cont');
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
