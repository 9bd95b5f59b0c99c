/**
 * The Cloud Hypervisor driver: one `cloud-hypervisor` process per VM, launched detached with
 * the whole VM on its command line, then driven over its REST API (undici on the Unix
 * socket). Ready = `vmm.ping` answers and `vm.info` says Running. Stop: a UEFI guest gets
 * `vm.power-button` and `stop_timeout_seconds` to power off; a direct-boot guest gets
 * `vm.shutdown` (flushes the disk backends); then SIGTERM, then SIGKILL, PID verified before
 * each signal. NOTE: execa and pino load lazily, as in the QEMU driver.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ExternalError, MissingDependencyError } from '../../errors.ts';
import { inNetns } from '../index.ts';
import type { ApiRequest, CommandLine, Hypervisor, LaunchDisk, LaunchPlan, LaunchSpec, RestoreChanges, RestoreOptions, RuntimeState, SavedState, SnapshotCapable, StopOptions, StopOutcome, VmPaths } from '../index.ts';
import { escalateStop, logTail, runtimeState, waitUntilReady } from '../launch.ts';
import { signalIfOwned } from '../process.ts';
import { RestClient } from '../rest.ts';
import type { NetworkConfig } from '../../schemas/vm.ts';
import { CH_API_BASE, chAddDisk, chAddNet, chInfo, chPause, chPing, chPowerButton, chRemoveDevice, chRestore, chResume, chShutdown, chSnapshot } from './api.ts';
import { CH_BINARY, chCommandLine } from './args.ts';
import { stageRestoreDir } from './restore-dir.ts';

/** Where the direct-boot console's PTY path is kept (CH picks the PTY; `vm.info` tells which). */
export const consolePtyFile = (paths: VmPaths): string => join(paths.runDir, 'console.pty');

export class CloudHypervisorDriver implements Hypervisor, SnapshotCapable {
  readonly kind = 'cloud-hypervisor' as const;

  constructor(private readonly binary = CH_BINARY) {}

  commandLine(spec: LaunchSpec): CommandLine {
    // CNI NICs: the TAPs are in the VM's netns, so CH runs there.
    return inNetns(chCommandLine(spec, this.binary), spec.netns);
  }

  launchPlan(spec: LaunchSpec): LaunchPlan {
    return { command: this.commandLine(spec), socket: spec.paths.apiSocket, requests: [] };
  }

  agentSocket(paths: VmPaths): string {
    return paths.vsockSocket;
  }

  async create(spec: LaunchSpec): Promise<void> {
    checkFirmware(spec);
  }

  async start(spec: LaunchSpec, timeoutMs: number): Promise<{ pid: number }> {
    checkFirmware(spec);
    const pid = await this.launch(spec.paths, this.commandLine(spec), timeoutMs);
    const api = client(spec.paths);
    try {
      const info = await api.call(chInfo(), { timeoutMs: 5000 });
      const state = (info.body as { state?: string } | null)?.state;
      if (state !== 'Running') throw new ExternalError(`cloud-hypervisor started, but the VM is ${state ?? 'not created'}: ${await logTail(spec.paths.hypervisorLog)}`);
      const pty = (info.body as { config?: { console?: { file?: string } } }).config?.console?.file;
      if (!spec.firmware && pty) writeFileSync(consolePtyFile(spec.paths), `${pty}\n`, { mode: 0o600 });
    } catch (err) {
      signalIfOwned(pid, spec.paths.apiSocket, 'SIGKILL');
      throw err;
    } finally {
      await api.close();
    }
    return { pid };
  }

  async stop(paths: VmPaths, pid: number | null, opts: StopOptions): Promise<StopOutcome> {
    const { log } = await import('../../log.ts');
    const api = client(paths);
    try {
      // The hypervisor knows how it booted the guest: firmware (ACPI power button) or a kernel.
      const uefi = await api
        .call(chInfo(), { timeoutMs: 2000, attempts: 2 })
        .then((r) => Boolean((r.body as { config?: { payload?: { firmware?: string } } }).config?.payload?.firmware))
        .catch(() => false);
      return await escalateStop({
        pid,
        marker: paths.apiSocket,
        opts,
        graceful: async () => void (await api.call(uefi ? chPowerButton() : chShutdown(), { timeoutMs: 5000 })),
        waitForGuest: uefi,
        what: 'cloud-hypervisor',
        warn: (msg) => log().warn({ pid }, msg),
      });
    } finally {
      await api.close();
    }
  }

  inspect(paths: VmPaths, pid: number | null): RuntimeState {
    return runtimeState(paths, pid);
  }

  consoleEndpoint(paths: VmPaths): { kind: 'unix' | 'pty'; path: string } {
    try {
      return { kind: 'pty', path: readFileSync(consolePtyFile(paths), 'utf8').trim() };
    } catch {
      return { kind: 'unix', path: paths.consoleSocket };
    }
  }

  async delete(paths: VmPaths): Promise<void> {
    await Promise.all([paths.apiSocket, paths.consoleSocket, paths.vsockSocket, consolePtyFile(paths), paths.pidFile].map((f) => rm(f, { force: true })));
  }

  /**
   * `vm.restore` can page memory in lazily (`memory_restore_mode: OnDemand`). Growing vCPUs,
   * memory or NICs on restore is not claimed until it is proven against a real CH.
   */
  readonly restoreChanges: RestoreChanges = { cpu: false, memory: false, nics: false, onDemand: true };

  async pause(paths: VmPaths): Promise<void> {
    await this.callAll(paths, [chPause()], [false]);
  }

  async resume(paths: VmPaths): Promise<void> {
    await this.callAll(paths, [chResume()], [false]);
  }

  async isPaused(paths: VmPaths): Promise<boolean> {
    return (await this.info(paths)).state === 'Paused';
  }

  /** `vm.snapshot` of the paused VM into `dir` (config.json, state.json, memory-ranges); the disks as `vm.info` lists them. */
  async saveState(paths: VmPaths, dir: string): Promise<SavedState> {
    const disks = (await this.info(paths)).config?.disks?.map((d) => d.path) ?? [];
    await this.callAll(paths, [chSnapshot(dir)], [true]);
    return { stateFile: 'config.json', files: readdirSync(dir).sort(), disks };
  }

  /**
   * An empty CH process, then `vm.restore` (left paused) from a per-VM copy of the snapshot's
   * small files whose config.json names this VM's disks and sockets; the memory file is
   * hard-linked, never copied (CH reads it in place).
   */
  async restore(spec: LaunchSpec, opts: RestoreOptions): Promise<{ pid: number }> {
    const dir = stageRestoreDir(spec, opts.dir);
    const pid = await this.launch(spec.paths, { file: this.binary, args: ['--api-socket', `path=${spec.paths.apiSocket}`] }, opts.timeoutMs);
    try {
      await this.callAll(spec.paths, [chRestore(dir, { onDemand: opts.onDemand, resume: false })], [true]);
    } catch (err) {
      signalIfOwned(pid, spec.paths.apiSocket, 'SIGKILL');
      throw err;
    }
    return { pid };
  }

  async growDisk(): Promise<void> {
    throw new MissingDependencyError('growing a disk of a running Cloud Hypervisor VM is not built yet (vm.resize-disk)');
  }

  private async info(paths: VmPaths): Promise<{ state?: string; config?: { disks?: Array<{ path: string }> } }> {
    const api = client(paths);
    try {
      return (await api.call(chInfo())).body as { state?: string; config?: { disks?: Array<{ path: string }> } };
    } finally {
      await api.close();
    }
  }

  /** Swaps a NIC (a clone gets its own TAP and MAC): `vm.remove-device`, then `vm.add-net`. */
  async replaceNic(spec: LaunchSpec, id: string, nic: NetworkConfig): Promise<void> {
    await this.callAll(spec.paths, [chRemoveDevice(id), chAddNet(nic, spec, id)], [false, false]);
  }

  /** Hot-plugs a disk. */
  async addDisk(spec: LaunchSpec, disk: LaunchDisk, id: string): Promise<void> {
    await this.callAll(spec.paths, [chAddDisk(disk, spec, id)], [false]);
  }

  /** Sends `reqs` in order; `long[i]` gives request i the time a memory transfer needs. */
  private async callAll(paths: VmPaths, reqs: ApiRequest[], long: boolean[]): Promise<void> {
    const api = client(paths);
    try {
      for (const [i, req] of reqs.entries()) await api.call(req, long[i] ? { timeoutMs: 600_000, attempts: 1 } : {});
    } finally {
      await api.close();
    }
  }

  /** Starts `cmd` detached and waits until `vmm.ping` answers. */
  private async launch(paths: VmPaths, cmd: CommandLine, timeoutMs: number): Promise<number> {
    mkdirSync(paths.runDir, { recursive: true, mode: 0o700 });
    mkdirSync(paths.logDir, { recursive: true, mode: 0o700 });
    await this.delete(paths);
    const { spawnDetached } = await import('../../exec.ts');
    const child = await spawnDetached(cmd.file, cmd.args, paths.hypervisorLog);
    let exited = false;
    void child.exited.then(() => (exited = true));
    writeFileSync(paths.pidFile, `${child.pid}\n`, { mode: 0o600 });
    const api = client(paths);
    try {
      await waitUntilReady({
        pid: child.pid,
        exited: () => exited,
        ready: async (deadline) => {
          if (!existsSync(paths.apiSocket)) return false;
          return api.call(chPing(), { timeoutMs: Math.max(Math.min(deadline - Date.now(), 1000), 50), attempts: 1 }).then(() => true, () => false);
        },
        marker: paths.apiSocket,
        log: paths.hypervisorLog,
        what: 'cloud-hypervisor',
        timeoutMs,
      });
    } finally {
      await api.close();
    }
    return child.pid;
  }
}

const client = (paths: VmPaths) => new RestClient(paths.apiSocket, CH_API_BASE);

/** A UEFI boot needs CLOUDHV.fd: a clear missing-dependency error before anything is launched. */
function checkFirmware(spec: LaunchSpec): void {
  if (spec.firmware && !existsSync(spec.firmware)) {
    throw new MissingDependencyError(`Cloud Hypervisor firmware ${spec.firmware} not found: install the Debian package cloudhv-efi-x86-64 (sid) or set ch_firmware in the config`);
  }
}
