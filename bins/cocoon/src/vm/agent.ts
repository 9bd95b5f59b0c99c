/**
 * Reaching a VM's cocoon-agent from the front end. Every hypervisor ends up as one Unix
 * socket with the hybrid-vsock handshake (`CONNECT 1024` → `OK 1024`): Cloud Hypervisor
 * and Firecracker serve it themselves, QEMU through cocoon's per-VM relay. A just-started
 * VM is fine: connecting is retried until the socket exists, and the frames wait in the
 * channel until the guest's agent reads them; a deadline bounds both.
 */
import type { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { AgentSession, type ExecIo, type ExecRequest, type ExecResult } from '@cocoon/common/agent/client';
import { connectHybridVsock, connectVsock } from '@cocoon/common/agent/connect';
import { hostHasVhostVsock } from '@cocoon/common/hypervisor/vsock';
import { ExternalError, InvalidStateError, TimeoutError } from '@cocoon/common/errors';
import { driverFor } from '@cocoon/common/hypervisor/drivers';
import { vmPaths } from '@cocoon/common/hypervisor/index';
import type { Layout } from '@cocoon/common/layout';
import { AGENT_VSOCK_PORT } from '@cocoon/common/schemas/agent';
import type { VmRecord } from '@cocoon/common/schemas/vm';
import { vmIndex } from '@cocoon/common/vms';
import { liveState } from './state.ts';

/** A VM that runs, with the socket its agent is reached through. */
export interface AgentTarget {
  vm: VmRecord;
  socket: string;
  /** Kernel vsock CID when the VM has a vhost-vsock device (used instead of `socket`). */
  vsockCid: number | null;
  /** How long the agent may take to answer, for messages (ms). */
  patienceMs?: number;
}

/** Resolves `ref` to a running VM; a VM in any other state is an InvalidStateError (6). */
export async function agentTarget(layout: Layout, ref: string): Promise<AgentTarget> {
  const vm = await vmIndex(layout).resolve(ref);
  const state = liveState(layout, vm);
  if (state !== 'running') {
    const how = state === 'paused' ? 'resume it with "cocoon vm resume' : 'start it with "cocoon vm start';
    throw new InvalidStateError(`VM "${vm.config.name}" is not running (state: ${state}); ${how} ${vm.config.name}"`);
  }
  // Kernel vsock only for QEMU's vhost-vsock; CH and FC serve a hybrid-vsock Unix socket.
  const vsockCid = vm.hypervisor === 'qemu' && vm.vsock_cid !== undefined && hostHasVhostVsock() ? vm.vsock_cid : null;
  return { vm, socket: driverFor(vm.hypervisor).agentSocket(vmPaths(layout, vm.id)), vsockCid };
}

/** Connects to the agent socket, retrying while it does not exist yet (relay starting). */
export async function connectAgent(target: AgentTarget, deadline: number): Promise<Socket> {
  for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
    const left = deadline - Date.now();
    try {
      const timeout = Math.max(Math.min(left, 5000), 100);
      if (target.vsockCid !== null) return connectVsock(target.vsockCid, AGENT_VSOCK_PORT, timeout);
      return await connectHybridVsock(target.socket, AGENT_VSOCK_PORT, timeout);
    } catch (err) {
      if (Date.now() + delay >= deadline) throw notAnswering(target, err);
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

/**
 * Runs one command; the agent must start it (`started`) or end the session before
 * `deadline`, else the connection is dropped (the relay then tells the agent to kill the
 * session) and a TimeoutError (7) is thrown. Returns the session too, for resize/signal.
 */
export async function execInVm(
  target: AgentTarget,
  request: ExecRequest,
  io: ExecIo,
  deadline: number,
  onSession?: (session: AgentSession) => void,
): Promise<ExecResult> {
  const socket = await connectAgent(target, deadline);
  const session = new AgentSession(socket, undefined);
  onSession?.(session);
  let answered = false;
  const timer = setTimeout(() => {
    if (!answered) socket.destroy();
  }, Math.max(deadline - Date.now(), 0));
  try {
    return await session.run(request, {
      ...io,
      onStarted: (pid) => {
        answered = true;
        clearTimeout(timer);
        io.onStarted?.(pid);
      },
    });
  } catch (err) {
    if (!answered && Date.now() >= deadline - 5) throw notAnswering(target, err);
    throw err;
  } finally {
    answered = true;
    clearTimeout(timer);
  }
}

/** Waits until the VM's agent runs a command (`true`); TimeoutError (7) at the deadline. */
export async function waitForAgent(target: AgentTarget, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const sink = new Writable({ write: (_chunk, _enc, cb) => cb() });
  const patient = { ...target, patienceMs: timeoutMs };
  for (;;) {
    let result: ExecResult;
    try {
      result = await execInVm(patient, { argv: ['true'] }, { stdout: sink, stderr: sink }, deadline);
    } catch (err) {
      if (err instanceof TimeoutError || Date.now() >= deadline) throw err;
      // The channel broke (e.g. the relay was still starting): try again.
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    if (result.error !== undefined) throw new ExternalError(`the agent of VM "${target.vm.config.name}" answered with an error: ${result.error}`);
    return;
  }
}

function notAnswering(target: AgentTarget, cause: unknown): TimeoutError {
  const why = cause instanceof Error ? ` (${cause.message})` : '';
  const within = target.patienceMs === undefined ? '' : ` within ${Math.round(target.patienceMs / 1000)} s`;
  return new TimeoutError(
    `the agent of VM "${target.vm.config.name}" did not answer${within}${why}; ` +
      `is cocoon-agent in its image? The guest's boot messages are in its console log`,
  );
}

/** What `cocoon vm exec` asks for. */
export interface ExecOptions {
  argv: string[];
  env: string[];
  cwd?: string;
  user?: string;
  interactive: boolean;
  tty: boolean;
  timeoutMs: number;
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WritableStream;
}

/** Signals this process forwards to the remote command while it runs. */
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const;

/**
 * `cocoon vm exec`: runs the command and returns its exit code. With a tty the local
 * terminal goes raw (keys, Ctrl-C included, reach the guest's pty as bytes) and window
 * size changes become `resize` frames; signals sent to this process are forwarded.
 */
export async function runExec(layout: Layout, ref: string, opts: ExecOptions): Promise<number> {
  const target = { ...(await agentTarget(layout, ref)), patienceMs: opts.timeoutMs };
  // The window size comes from whichever output is the terminal (stdin's stream has none).
  const term = [opts.stdout, opts.stderr].find((s) => (s as NodeJS.WriteStream).isTTY) as NodeJS.WriteStream | undefined;
  const size = () => ({ rows: term?.rows || 24, cols: term?.columns || 80 });
  const request: ExecRequest = {
    argv: opts.argv,
    ...(opts.env.length ? { env: opts.env } : {}),
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    ...(opts.user ? { user: opts.user } : {}),
    ...(opts.tty ? { tty: true, ...size() } : {}),
  };
  let session: AgentSession | undefined;
  const onResize = () => session?.resize(size().rows, size().cols);
  const handlers = FORWARDED.map((name) => [name, () => session?.signal(name)] as const);
  for (const [name, handler] of handlers) process.on(name, handler);
  // Raw only when keys go to the guest (-it); with -t alone Ctrl-C stays a local SIGINT,
  // which is forwarded as a `signal` frame.
  const raw = opts.tty && opts.interactive;
  if (raw) opts.stdin.setRawMode(true);
  if (opts.tty) process.on('SIGWINCH', onResize);
  try {
    const io: ExecIo = { stdin: opts.interactive ? opts.stdin : undefined, stdout: opts.stdout, stderr: opts.stderr as Writable };
    const result = await execInVm(target, request, io, Date.now() + opts.timeoutMs, (s) => (session = s));
    if (result.error !== undefined) opts.stderr.write(`cocoon: ${result.error}\n`);
    return result.exitCode;
  } finally {
    for (const [name, handler] of handlers) process.off(name, handler);
    if (opts.tty) process.off('SIGWINCH', onResize);
    if (raw) opts.stdin.setRawMode(false);
    opts.stdin.pause();
  }
}
