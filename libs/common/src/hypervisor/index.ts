/**
 * The hypervisor interface. One driver per kind; the VM commands orchestrate and drivers
 * never call each other. Optional capabilities (snapshot, clone, restore) are separate
 * small interfaces with type guards, so a driver states what it can do.
 */
import type { Layout } from '../layout.ts';
import type { HypervisorKind } from '../schemas/config.ts';
import type { ResolvedDisk } from '../schemas/image.ts';
import type { NetworkConfig, StorageConfig, VmHotplug, VmTuning } from '../schemas/vm.ts';

/** Runtime files of one VM. */
export interface VmPaths {
  runDir: string;
  logDir: string;
  /** Control socket: QMP (QEMU) or the REST API (Cloud Hypervisor, Firecracker). */
  apiSocket: string;
  consoleSocket: string;
  consoleLog: string;
  hypervisorLog: string;
  pidFile: string;
  /** The writable COW disk (OCI images). */
  cowDisk: string;
  /** The writable qcow2 overlay on a cloud image. */
  rootDisk: string;
  /** The NoCloud seed (CIDATA) of a cloud image, attached on the first boot only. */
  seedDisk: string;
  /** The VM's own UEFI variable store (firmware boots). */
  uefiVars: string;
  /** The hypervisor's side of the guest-agent channel (QEMU virtio-serial). */
  agentSerialSocket: string;
  /** The host-facing agent socket (`CONNECT <port>` handshake) for every hypervisor. */
  agentSocket: string;
  /** A second QMP monitor, only for events (the relay watches the agent's port on it). */
  eventsSocket: string;
  /** Cloud Hypervisor's and Firecracker's hybrid-vsock socket (`CONNECT <port>`): their agent socket. */
  vsockSocket: string;
  /** The PID of the console relay that hosts a Firecracker process on a PTY. */
  consoleRelayPidFile: string;
}

/** Paths of VM `id` under `layout`. */
export function vmPaths(layout: Layout, id: string): VmPaths {
  // NOTE: template strings on the already-normalised dirs: `vm list` calls this per VM.
  const runDir = layout.vmRunDir(id);
  const logDir = layout.vmLogDir(id);
  return {
    runDir,
    logDir,
    apiSocket: `${runDir}/api.sock`,
    consoleSocket: `${runDir}/console.sock`,
    consoleLog: `${logDir}/console.log`,
    hypervisorLog: `${logDir}/hypervisor.log`,
    pidFile: `${runDir}/hypervisor.pid`,
    cowDisk: `${runDir}/cow.raw`,
    rootDisk: `${runDir}/root.qcow2`,
    seedDisk: `${runDir}/cidata.img`,
    uefiVars: `${runDir}/uefi-vars.fd`,
    agentSerialSocket: `${runDir}/agent-serial.sock`,
    agentSocket: `${runDir}/agent.sock`,
    eventsSocket: `${runDir}/events.sock`,
    vsockSocket: `${runDir}/vsock.sock`,
    consoleRelayPidFile: `${runDir}/console-relay.pid`,
  };
}

/** One disk as launched: what the image resolve says, plus its role and whether it gets O_DIRECT. */
export interface LaunchDisk extends ResolvedDisk {
  role: StorageConfig['role'];
  /** Open with O_DIRECT (no host page cache). */
  direct: boolean;
}

/** Everything a driver needs to launch a VM. */
export interface LaunchSpec {
  id: string;
  name: string;
  cpu: number;
  /** Bytes. */
  memory: number;
  accel: 'kvm' | 'tcg';
  kernel: string | null;
  initrd: string | null;
  /** UEFI firmware code (read-only); its variable store is `paths.uefiVars`. */
  firmware: string | null;
  cmdline: string;
  /** In attach order. */
  disks: LaunchDisk[];
  /** NICs (`network_configs`), in guest order (eth0 first). */
  nics: NetworkConfig[];
  /** Host tuning decided for this launch (see tuning.ts). */
  tuning: VmTuning;
  /** A Windows guest: Hyper-V enlightenments, no balloon, no cidata. */
  windows: boolean;
  /** Guest CID of a kernel vsock device, when the host has one (else the agent rides virtio-serial). */
  vsockCid: number | null;
  /** The netns the hypervisor runs in (its TAPs are there: CNI mode), or null (host netns). */
  netns: string | null;
  /** Whether /dev/vhost-net can back the TAPs (else QEMU moves packets itself: `vhost=off`). */
  vhostNet: boolean;
  paths: VmPaths;
}

/**
 * Runs `cmd` inside netns `netns` (`nsenter --net=…`, which execs it in the same process, so
 * the PID and /proc cmdline are the hypervisor's own). Measured: ~4 ms more per start; the
 * alternative, opening the TAP fds inside the netns and passing them, needs setns(2) in
 * cocoon itself and makes `vm debug`'s command line impossible to run by hand.
 */
export function inNetns(cmd: CommandLine, netns: string | null): CommandLine {
  return netns ? { file: 'nsenter', args: [`--net=${netns}`, '--', cmd.file, ...cmd.args] } : cmd;
}

/** An executable and its arguments, exactly as started. */
export interface CommandLine {
  file: string;
  args: string[];
}

/** What a driver knows of a VM's hypervisor process. */
export interface RuntimeState {
  running: boolean;
  pid: number | null;
}

export interface StopOptions {
  /** Grace period for the guest's own shutdown (ACPI power button), ms. */
  timeoutMs: number;
  /** Skip the graceful step. */
  force: boolean;
}

/** How a stop ended. */
export type StopOutcome = 'graceful' | 'terminated' | 'killed' | 'not-running';

/** One REST call a driver sends to its hypervisor's API socket. */
export interface ApiRequest {
  method: 'GET' | 'PUT' | 'PATCH';
  path: string;
  body?: unknown;
}

/** Everything `start` does to launch a VM: the process, then the API calls in order (Firecracker). */
export interface LaunchPlan {
  command: CommandLine;
  /** The API socket the requests go to. */
  socket: string;
  requests: ApiRequest[];
}

export interface Hypervisor {
  readonly kind: HypervisorKind;
  /** The exact command line `start` runs. */
  commandLine(spec: LaunchSpec): CommandLine;
  /** The exact launch `start` performs (`vm debug` prints it); built by the same code as `start`. */
  launchPlan(spec: LaunchSpec): LaunchPlan;
  /** The host socket the guest agent is reached on (`CONNECT <port>` handshake). */
  agentSocket(paths: VmPaths): string;
  /** Prepares driver-specific files before the first start (none for QEMU). */
  create(spec: LaunchSpec): Promise<void>;
  /** Launches the hypervisor, detached from cocoon, and waits until its API answers. */
  start(spec: LaunchSpec, timeoutMs: number): Promise<{ pid: number }>;
  /** Graceful shutdown, then SIGTERM, then SIGKILL, each only after verifying the PID. */
  stop(paths: VmPaths, pid: number | null, opts: StopOptions): Promise<StopOutcome>;
  /** Whether the VM's hypervisor process is alive and really this VM's. */
  inspect(paths: VmPaths, pid: number | null): RuntimeState;
  /** Where the console is served: a Unix socket, or a PTY (Cloud Hypervisor's direct-boot console). */
  consoleEndpoint(paths: VmPaths): { kind: 'unix' | 'pty'; path: string };
  /** Removes the driver's runtime files of a stopped VM. */
  delete(paths: VmPaths): Promise<void>;
}

/**
 * Optional: take over a live hypervisor of this VM that no record knows (its starter was killed
 * after launching it): wait until its API answers and start what `start` would have started
 * beside it (e.g. QEMU's agent relay).
 */
export interface Adoptable {
  adopt(spec: LaunchSpec, pid: number, timeoutMs: number): Promise<void>;
}

export function canAdopt(h: Hypervisor): h is Hypervisor & Adoptable {
  return 'adopt' in h;
}

/**
 * What a restore from a saved state can change from the saved machine. A LiveGrowable driver
 * grows only within the headroom the saved launch recorded (none recorded: nothing).
 */
export interface RestoreChanges {
  /** More vCPUs than were saved. */
  cpu: boolean;
  /** More memory than was saved. */
  memory: boolean;
  /** More NICs than were saved. */
  nics: boolean;
  /** Lazy memory restore (`--on-demand`: pages loaded as the guest touches them). */
  onDemand: boolean;
}

export interface RestoreOptions {
  /** Where the saved state is (the snapshot directory, read in place and never written). */
  dir: string;
  /** The state file inside `dir` that `saveState` named. */
  stateFile: string;
  timeoutMs: number;
  /** Load memory lazily (only where `restoreChanges.onDemand`). */
  onDemand?: boolean;
}

/** What `saveState` wrote. */
export interface SavedState {
  /** The file a restore loads (`RestoreOptions.stateFile`). */
  stateFile: string;
  /** Every file written into the directory. */
  files: string[];
  /** Paths of the disks the hypervisor has attached, in attach order (the layout a restore must rebuild). */
  disks: string[];
}

/**
 * Optional: pause/resume, save the device and memory state of a paused VM into a directory,
 * and launch a VM from such a state. Snapshot, clone, fork and restore are built on these;
 * the writable disks are copied by the caller, not the driver.
 */
export interface SnapshotCapable {
  /** Stops the vCPUs (QEMU `stop`; CH `vm.pause`; FC `PATCH /vm Paused`). */
  pause(paths: VmPaths): Promise<void>;
  /** Lets the vCPUs run again (QEMU `cont`; CH `vm.resume`; FC `PATCH /vm Resumed`). */
  resume(paths: VmPaths): Promise<void>;
  /** Whether the vCPUs are stopped now. */
  isPaused(paths: VmPaths): Promise<boolean>;
  /**
   * Writes the paused VM's device and memory state into `dir` (which exists); the VM stays
   * paused. Returns the name of the state file and every file written.
   */
  saveState(paths: VmPaths, dir: string, timeoutMs: number): Promise<SavedState>;
  /**
   * Launches the hypervisor for `spec` from a saved state and waits until it is loaded; the
   * VM is left paused for the caller to adjust (disk sizes, NICs) and resume. The disks of
   * `spec` must be the saved layout, in the saved order.
   */
  restore(spec: LaunchSpec, opts: RestoreOptions): Promise<{ pid: number }>;
  /** Grows writable disk `index` (position in `spec.disks`) of a running VM to `bytes`, so the guest sees it. */
  growDisk(paths: VmPaths, index: number, bytes: number): Promise<void>;
  readonly restoreChanges: RestoreChanges;
}

export function canSnapshot(h: Hypervisor): h is Hypervisor & SnapshotCapable {
  return 'saveState' in h && 'restore' in h;
}

/** What a running VM is grown to: vCPUs, memory (bytes) and every NIC in guest order (the first ones are the VM's own). */
export interface GrowTarget {
  cpu: number;
  memory: number;
  nics: NetworkConfig[];
}

/**
 * Optional: grow a running VM live (vCPUs, memory, NICs), within room its launch reserved and
 * recorded (`tuning.hotplug`). A VM launched from a saved state is the saved machine; this is
 * how a clone or restore then gets more than the snapshot had.
 */
export interface LiveGrowable {
  /** The room a launch of `spec` reserves (recorded in the VM's tuning); undefined when none. */
  headroom(spec: LaunchSpec): VmHotplug | undefined;
  /** Memory grows in multiples of this (bytes): the guest adds memory in blocks this large. */
  readonly memoryStep: number;
  /**
   * Adds vCPUs, memory and NICs to the running VM launched from `spec` until it has `to`, and
   * waits until `deadline` for the guest to accept the vCPUs and memory (it must still bring
   * vCPUs online itself). Returns the VM's hotplug record with what was added.
   */
  grow(spec: LaunchSpec, to: GrowTarget, deadline: number): Promise<VmHotplug>;
}

export function canGrowLive(h: Hypervisor): h is Hypervisor & LiveGrowable {
  return 'grow' in h && 'headroom' in h;
}
