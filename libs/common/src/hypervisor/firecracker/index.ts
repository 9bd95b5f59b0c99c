/**
 * The Firecracker driver: `firecracker --api-sock` is started empty, hosted on a PTY by the
 * per-VM console relay (`cocoon-agent console-relay`: Firecracker's serial console is its
 * stdio), then configured over REST (machine-config, boot-source with the uncompressed
 * kernel, drives, NICs, balloon, vsock, entropy) and started with `InstanceStart`. Stop:
 * `SendCtrlAltDel`, `stop_timeout_seconds`, then SIGTERM, then SIGKILL, PID verified first.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ExternalError, InvalidDataError, MissingDependencyError } from '../../errors.ts';
import { inNetns } from '../index.ts';
import type { ApiRequest, CommandLine, Hypervisor, LaunchPlan, LaunchSpec, RestoreChanges, RestoreOptions, RuntimeState, SavedState, SnapshotCapable, StopOptions, StopOutcome, VmPaths } from '../index.ts';
import { escalateStop, logTail, runtimeState, waitUntilReady } from '../launch.ts';
import { processArgv, signalIfOwned, waitForExit } from '../process.ts';
import { RestClient } from '../rest.ts';
import { FC_BINARY, fcAction, fcBootRequests, fcDriveSwaps, fcInfo, fcSnapshotCreate, fcSnapshotLoad, fcVmState } from './requests.ts';
import { ensureVmlinux } from './vmlinux.ts';

export class FirecrackerDriver implements Hypervisor, SnapshotCapable {
  readonly kind = 'firecracker' as const;

  constructor(private readonly binary = FC_BINARY) {}

  /** The Firecracker process itself (the relay hosts it; see `launchPlan` for the rest). */
  commandLine(spec: LaunchSpec): CommandLine {
    // CNI NICs: the TAPs are in the VM's netns, so Firecracker runs there.
    return inNetns({ file: this.binary, args: ['--api-sock', spec.paths.apiSocket, '--id', spec.id, '--log-path', fcLog(spec.paths), '--level', 'Warning'] }, spec.netns);
  }

  launchPlan(spec: LaunchSpec): LaunchPlan {
    return { command: this.commandLine(spec), socket: spec.paths.apiSocket, requests: fcBootRequests(spec) };
  }

  agentSocket(paths: VmPaths): string {
    return paths.vsockSocket;
  }

  /** Extracts the uncompressed kernel once (beside the image's bzImage). */
  async create(spec: LaunchSpec): Promise<void> {
    if (!spec.kernel) throw new InvalidDataError('Firecracker boots OCI images with a kernel; this VM has none');
    await ensureVmlinux(spec.kernel);
  }

  async start(spec: LaunchSpec, timeoutMs: number): Promise<{ pid: number }> {
    await this.create(spec);
    const pid = await this.launch(spec, timeoutMs);
    await this.send(spec.paths, pid, fcBootRequests(spec), false);
    return { pid };
  }

  async stop(paths: VmPaths, pid: number | null, opts: StopOptions): Promise<StopOutcome> {
    const { log } = await import('../../log.ts');
    const api = new RestClient(paths.apiSocket);
    try {
      return await escalateStop({
        pid,
        marker: paths.apiSocket,
        opts,
        graceful: async () => void (await api.call(fcAction('SendCtrlAltDel'), { timeoutMs: 5000 })),
        what: 'firecracker',
        warn: (msg) => log().warn({ pid }, msg),
      });
    } finally {
      await api.close();
    }
  }

  inspect(paths: VmPaths, pid: number | null): RuntimeState {
    return runtimeState(paths, pid);
  }

  consoleEndpoint(paths: VmPaths): { kind: 'unix'; path: string } {
    return { kind: 'unix', path: paths.consoleSocket };
  }

  async delete(paths: VmPaths): Promise<void> {
    await stopConsoleRelay(paths);
    await Promise.all([paths.apiSocket, paths.consoleSocket, paths.vsockSocket, paths.pidFile, paths.consoleRelayPidFile].map((f) => rm(f, { force: true })));
  }

  /** Firecracker loads the machine as saved (no resizing, no lazy restore through this API). */
  readonly restoreChanges: RestoreChanges = { cpu: false, memory: false, nics: false, onDemand: false };

  async pause(paths: VmPaths): Promise<void> {
    await this.once(paths, fcVmState('Paused'));
  }

  async resume(paths: VmPaths): Promise<void> {
    await this.once(paths, fcVmState('Resumed'));
  }

  async isPaused(paths: VmPaths): Promise<boolean> {
    return ((await this.once(paths, fcInfo())) as { state?: string }).state === 'Paused';
  }

  /** `/snapshot/create` of the paused VM (vmstate + mem into `dir`); the drives as `GET /vm/config` lists them. */
  async saveState(paths: VmPaths, dir: string): Promise<SavedState> {
    const config = (await this.once(paths, { method: 'GET', path: '/vm/config' })) as { drives?: Array<{ path_on_host: string }> };
    await this.once(paths, fcSnapshotCreate(dir), true);
    return { stateFile: 'vmstate', files: ['mem', 'vmstate'], disks: (config.drives ?? []).map((d) => d.path_on_host) };
  }

  /**
   * A fresh process, then `/snapshot/load` (left paused) with each NIC moved to this VM's TAP
   * and the vsock to its socket, then each writable drive moved to this VM's file (a clone's
   * copies; the VM's own files for a restore in place). Firecracker reopens the saved drive
   * paths during the load, so those files must still exist (a clone of a removed VM fails).
   */
  async restore(spec: LaunchSpec, opts: RestoreOptions): Promise<{ pid: number }> {
    const pid = await this.launch(spec, opts.timeoutMs);
    await this.send(spec.paths, pid, this.restoreRequests(opts.dir, spec), true);
    return { pid };
  }

  async growDisk(): Promise<void> {
    throw new MissingDependencyError('growing a disk of a running Firecracker VM is not supported by its API (PATCH /drives only swaps the file)');
  }

  private async once(paths: VmPaths, req: ApiRequest, long = false): Promise<unknown> {
    const api = new RestClient(paths.apiSocket);
    try {
      return (await api.call(req, long ? { timeoutMs: 600_000, attempts: 1 } : {})).body;
    } finally {
      await api.close();
    }
  }

  /** The requests a restore sends after the process answers (for `vm debug` and the contract tests). */
  restoreRequests(sourceDir: string, spec: Pick<LaunchSpec, 'nics' | 'disks' | 'vsockCid' | 'paths'>): ApiRequest[] {
    return [fcSnapshotLoad(sourceDir, spec.nics, spec.vsockCid === null ? null : spec.paths.vsockSocket), ...fcDriveSwaps(spec.disks)];
  }

  /** Starts the relay hosting Firecracker and waits until the API answers; returns Firecracker's PID. */
  private async launch(spec: LaunchSpec, timeoutMs: number): Promise<number> {
    const { paths } = spec;
    mkdirSync(paths.runDir, { recursive: true, mode: 0o700 });
    mkdirSync(paths.logDir, { recursive: true, mode: 0o700 });
    await this.delete(paths);
    // Firecracker opens its log file for appending and will not create it.
    closeSync(openSync(fcLog(paths), 'a', 0o600));
    const cmd = this.commandLine(spec);
    const [{ spawnDetached }, { findTool }] = await Promise.all([import('../../exec.ts'), import('../../tools.ts')]);
    const relay = await spawnDetached(
      findTool('cocoon-agent'),
      ['console-relay', '--listen', paths.consoleSocket, '--log', paths.consoleLog, '--pid-file', paths.pidFile, '--', cmd.file, ...cmd.args],
      paths.hypervisorLog,
    );
    let relayExited = false;
    void relay.exited.then(() => (relayExited = true));
    writeFileSync(paths.consoleRelayPidFile, `${relay.pid}\n`, { mode: 0o600 });
    const pid = await readPid(paths.pidFile, Date.now() + Math.min(timeoutMs, 10_000), () => relayExited);
    if (pid === null) throw new ExternalError(`the console relay did not start firecracker: ${await logTail(paths.hypervisorLog)}`);
    const api = new RestClient(paths.apiSocket);
    try {
      await waitUntilReady({
        pid,
        exited: () => relayExited,
        ready: async (deadline) => existsSync(paths.apiSocket) && api.call(fcInfo(), { timeoutMs: Math.max(Math.min(deadline - Date.now(), 1000), 50), attempts: 1 }).then(() => true, () => false),
        marker: paths.apiSocket,
        log: fcLog(paths),
        what: 'firecracker',
        timeoutMs,
      });
    } finally {
      await api.close();
    }
    return pid;
  }

  /** Sends `reqs` in order; any failure kills the half-configured process (PID verified). */
  private async send(paths: VmPaths, pid: number, reqs: ApiRequest[], long: boolean): Promise<void> {
    const api = new RestClient(paths.apiSocket);
    try {
      for (const req of reqs) await api.call(req, long ? { timeoutMs: 600_000, attempts: 1 } : {});
    } catch (err) {
      signalIfOwned(pid, paths.apiSocket, 'SIGKILL');
      await waitForExit(pid, 5000);
      throw new ExternalError(`${(err as Error).message}; firecracker log: ${await logTail(fcLog(paths))}`);
    } finally {
      await api.close();
    }
  }
}

/** Firecracker's own log (its `--log-path`), beside the hypervisor log (the relay's stdio). */
export const fcLog = (paths: VmPaths): string => `${paths.logDir}/firecracker.log`;

async function readPid(file: string, deadline: number, gone: () => boolean): Promise<number | null> {
  while (Date.now() < deadline && !gone()) {
    try {
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 1) return pid;
    } catch {
      // not written yet
    }
    await sleep(10);
  }
  return null;
}

/** Ends a relay that outlived its Firecracker (it normally exits with it); PID verified first. */
async function stopConsoleRelay(paths: VmPaths): Promise<void> {
  let pid: number;
  try {
    pid = Number(readFileSync(paths.consoleRelayPidFile, 'utf8').trim());
  } catch {
    return;
  }
  const argv = processArgv(pid);
  if (!argv?.includes('console-relay') || !argv.includes(paths.consoleSocket)) return;
  if (signalIfOwned(pid, paths.consoleSocket, 'SIGTERM') && !(await waitForExit(pid, 2000))) signalIfOwned(pid, paths.consoleSocket, 'SIGKILL');
}
