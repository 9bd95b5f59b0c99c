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
import { pidBelongsTo, signalIfOwned, waitForExit } from '../process.ts';
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

  /** Not used for QEMU: its agent is reached through vhost-vsock or the serial port pool (`agentPoolDir`). */
  agentSocket(paths: VmPaths): string {
    return paths.agentPoolDir;
  }

  async create(): Promise<void> {}

  async start(spec: LaunchSpec, timeoutMs: number, onSpawned?: (pid: number) => void): Promise<{ pid: number }> {
    const { pid, qmp } = await this.launch(spec, this.commandLine(spec), timeoutMs, [], onSpawned);
    try {
      // NOTE: the session that proved QEMU ready sets the balloon's target too (no second QMP connection).
      if (spec.tuning.balloon > 0) await qmp?.execute('balloon', { value: spec.memory - spec.tuning.balloon });
    } finally {
      qmp?.close();
    }
    return { pid };
  }

  /**
   * The agent's port pool comes back with the device state: the migration stream carries the
   * virtio-serial ports (same count, same names, as the command line is the saved VM's), and
   * the guest's agent sees its ports' host side reconnect like after any client's hang-up.
   */
  async restore(spec: LaunchSpec, opts: RestoreOptions): Promise<{ pid: number }> {
    const cmd = this.commandLine(spec);
    cmd.args.push('-S', '-incoming', 'fd:3');
    const deadline = Date.now() + opts.timeoutMs;
    // NOTE: opened read-only and handed over as fd 3; QEMU reads the snapshot's file in place.
    const stateFd = openSync(`${opts.dir}/${opts.stateFile}`, 'r');
    let launched: { pid: number; alive: () => boolean; qmp?: QmpClient };
    try {
      launched = await this.launch(spec, cmd, opts.timeoutMs, [stateFd]);
    } finally {
      closeSync(stateFd);
    }
    launched.qmp?.close();
    try {
      await waitForIncoming(spec.paths, deadline, launched.alive);
    } catch (err) {
      signalIfOwned(launched.pid, spec.paths.apiSocket, 'SIGKILL');
      await waitForExit(launched.pid, KILL_GRACE_MS);
      throw new ExternalError(`${(err as Error).message}: ${await logTail(spec.paths.hypervisorLog)}`);
    }
    return { pid: launched.pid };
  }

  /**
   * Spawns QEMU detached (`extraFds` become its fds 3 …) and waits until QMP answers; returns
   * the QMP session that proved it (the caller closes it).
   */
  private async launch(
    spec: LaunchSpec,
    cmd: CommandLine,
    timeoutMs: number,
    extraFds: number[] = [],
    onSpawned?: (pid: number) => void,
  ): Promise<{ pid: number; alive: () => boolean; qmp?: QmpClient }> {
    const { paths } = spec;
    mkdirSync(paths.runDir, { recursive: true, mode: 0o700 });
    mkdirSync(paths.logDir, { recursive: true, mode: 0o700 });
    // NOTE: the agent's port pool starts empty: no claim, no learned port count from an earlier boot.
    await Promise.all([paths.apiSocket, paths.consoleSocket, paths.pidFile, paths.agentPoolDir].map((f) => rm(f, { force: true, recursive: true })));
    if (spec.vsockCid === null) mkdirSync(paths.agentPoolDir, { mode: 0o700 });
    const { spawnDetached } = await import('../../spawn-detached.ts');
    const child = await spawnDetached(cmd.file, cmd.args, paths.hypervisorLog, extraFds);
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
    return { pid, alive: () => !exited, qmp };
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
