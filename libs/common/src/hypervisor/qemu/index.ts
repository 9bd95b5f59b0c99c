/**
 * The QEMU driver: launches `qemu-system-x86_64` detached and controls it over QMP.
 * NOTE: execa and pino are imported inside the methods that use them, so read-only
 * commands (`vm list`, `vm inspect`) that only call `inspect()` start without them.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ExternalError, TimeoutError } from '../../errors.ts';
import type { CommandLine, Hypervisor, LaunchSpec, RestoreChanges, RestoreOptions, RuntimeState, SavedState, SnapshotCapable, StopOptions, StopOutcome, VmPaths } from '../index.ts';
import { pidBelongsTo, processArgv, signalIfOwned, waitForExit } from '../process.ts';
import { startRelay, stopRelay } from './agent-relay.ts';
import { qemuCommandLine } from './args.ts';
import { QmpClient } from './qmp.ts';
import { runState, saveQemuState, waitForIncoming, withQmp } from './snapshot.ts';

const TERM_GRACE_MS = 5000;
const KILL_GRACE_MS = 5000;

export class QemuDriver implements Hypervisor, SnapshotCapable {
  readonly kind = 'qemu' as const;
  /**
   * A migration stream restores the machine it was saved from: same vCPUs, RAM size and PCI
   * devices (growing them would need hotplug slots reserved at the first boot).
   */
  readonly restoreChanges: RestoreChanges = { cpu: false, memory: false, nics: false, onDemand: false };

  constructor(private readonly binary = 'qemu-system-x86_64') {}

  commandLine(spec: LaunchSpec): CommandLine {
    return qemuCommandLine(spec, this.binary);
  }

  async create(): Promise<void> {}

  async start(spec: LaunchSpec, timeoutMs: number): Promise<{ pid: number }> {
    const launched = await this.launch(spec, this.commandLine(spec), timeoutMs);
    // QEMU made the virtio-serial chardev before QMP answered: the relay can hold it now.
    await startRelay(spec.paths);
    return { pid: launched.pid };
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
    try {
      await waitForIncoming(spec.paths, deadline, launched.alive);
    } catch (err) {
      signalIfOwned(launched.pid, spec.paths.apiSocket, 'SIGKILL');
      await waitForExit(launched.pid, KILL_GRACE_MS);
      const tail = await lastLines(spec.paths.hypervisorLog);
      throw new ExternalError(`${(err as Error).message}: ${tail}`);
    }
    await startRelay(spec.paths);
    return { pid: launched.pid };
  }

  /** Spawns QEMU detached and waits until QMP answers. */
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
    const alive = () => !exited && processArgv(pid) !== null;
    const deadline = Date.now() + timeoutMs;
    // NOTE: QEMU is usually ready within ~100 ms: poll tightly at first, then back off.
    for (let delay = 5, tries = 0; ; delay = ++tries < 100 ? 5 : Math.min(delay * 2, 100)) {
      if (!alive()) {
        throw new ExternalError(`${cmd.file} exited during start: ${await lastLines(paths.hypervisorLog)}`);
      }
      if (await qmpAnswers(paths.apiSocket, deadline)) break;
      if (Date.now() >= deadline) {
        signalIfOwned(pid, paths.apiSocket, 'SIGKILL');
        throw new TimeoutError(`QEMU did not answer on QMP within ${timeoutMs} ms`);
      }
      await sleep(delay);
    }
    return { pid, alive };
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

  async growDisk(paths: VmPaths, index: number, bytes: number): Promise<void> {
    await withQmp(paths, (qmp) => qmp.execute('block_resize', { 'node-name': `disk${index}`, size: bytes }));
  }

  async stop(paths: VmPaths, pid: number | null, opts: StopOptions): Promise<StopOutcome> {
    const marker = paths.apiSocket;
    if (!pid || !pidBelongsTo(pid, marker)) return 'not-running';
    const { log } = await import('../../log.ts');
    if (!opts.force) {
      try {
        const qmp = await QmpClient.open(paths.apiSocket, 2000);
        try {
          // A paused guest cannot see the power button: let it run first.
          if (!(await runState(qmp)).running) await qmp.execute('cont');
          await qmp.execute('system_powerdown');
        } finally {
          qmp.close();
        }
        if (await waitForExit(pid, opts.timeoutMs)) return 'graceful';
        log().warn({ pid }, 'guest did not power off in time; sending SIGTERM');
      } catch (err) {
        log().warn({ err: (err as Error).message }, 'QMP powerdown failed; sending SIGTERM');
      }
    }
    if (signalIfOwned(pid, marker, 'SIGTERM') && (await waitForExit(pid, TERM_GRACE_MS))) return 'terminated';
    if (!pidBelongsTo(pid, marker)) return 'terminated';
    signalIfOwned(pid, marker, 'SIGKILL');
    if (await waitForExit(pid, KILL_GRACE_MS)) return 'killed';
    throw new TimeoutError(`QEMU (pid ${pid}) survived SIGKILL for ${KILL_GRACE_MS} ms`);
  }

  inspect(paths: VmPaths, pid: number | null): RuntimeState {
    const running = pidBelongsTo(pid, paths.apiSocket);
    return { running, pid: running ? pid : null };
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

async function qmpAnswers(socket: string, deadline: number): Promise<boolean> {
  try {
    (await QmpClient.open(socket, Math.max(deadline - Date.now(), 100))).close();
    return true;
  } catch {
    return false;
  }
}

async function lastLines(file: string, n = 3): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.trim().split('\n').slice(-n).join(' | ') || '(no output)';
  } catch {
    return '(no log)';
  }
}

export { QmpClient };
