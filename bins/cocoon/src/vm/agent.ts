/**
 * Reaching a VM's cocoon-agent from the front end, with nothing running beside the
 * hypervisor. Three channels:
 *   - QEMU on a host without /dev/vhost-vsock: a port of the VM's virtio-serial pool,
 *     claimed under a kernel lock for this one session (`hypervisor/qemu/agent-pool.ts`);
 *   - QEMU with vhost-vsock: kernel AF_VSOCK to the VM's CID;
 *   - Cloud Hypervisor and Firecracker: their hybrid-vsock Unix socket (`CONNECT 1024`).
 * A just-started VM is fine: connecting is retried until the socket exists, and the frames
 * wait in the channel until the guest's agent reads them; a deadline bounds both.
 */
import { randomInt } from 'node:crypto';
import type { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { AgentSession, type ExecIo, type ExecRequest, type ExecResult, type ReseedRequest, type SessionOptions } from '@cocoon/common/agent/client';
import { connectHybridVsock, connectUnix, connectVsock } from '@cocoon/common/agent/connect';
import { ExternalError, InvalidStateError, TimeoutError } from '@cocoon/common/errors';
import { driverFor } from '@cocoon/common/hypervisor/drivers';
import { vmPaths } from '@cocoon/common/hypervisor/index';
import { agentPool, claimPort, DIRTY_PAD, PORT_WAIT_MS, recordServedPorts, servedPorts, watchAgentPort, type AgentPool } from '@cocoon/common/hypervisor/qemu/agent-pool';
import { hostHasVhostVsock } from '@cocoon/common/hypervisor/vsock';
import type { Layout } from '@cocoon/common/layout';
import { AGENT_VSOCK_PORT } from '@cocoon/common/schemas/agent';
import type { VmRecord } from '@cocoon/common/schemas/vm';
import { vmIndex } from '@cocoon/common/vms';
import { liveState } from './state.ts';

/** How the front end reaches a VM's agent. */
export type AgentChannel = { kind: 'pool'; dir: string } | { kind: 'vsock'; cid: number } | { kind: 'hybrid'; socket: string };

/** A VM that runs, with the channel its agent is reached through. */
export interface AgentTarget {
  vm: VmRecord;
  channel: AgentChannel;
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
  return { vm, channel: channelOf(layout, vm) };
}

/** The channel of a VM: decided by its hypervisor and whether it got a vhost-vsock device. */
export function channelOf(layout: Layout, vm: VmRecord): AgentChannel {
  const paths = vmPaths(layout, vm.id);
  if (vm.hypervisor !== 'qemu') return { kind: 'hybrid', socket: driverFor(vm.hypervisor).agentSocket(paths) };
  if (vm.vsock_cid !== undefined && hostHasVhostVsock()) return { kind: 'vsock', cid: vm.vsock_cid };
  return { kind: 'pool', dir: paths.agentPoolDir };
}

/** A connected channel for one session, and how to give it back. */
export interface OpenStream {
  socket: Socket;
  options: SessionOptions;
  /** The pool port taken (pool channels only). */
  port?: { pool: AgentPool; k: number };
  /** Gives a pool port back; `clean` when the session ended with a terminal frame. */
  release(clean: boolean): void;
}

/** Connects through `target`'s channel, retrying while its socket does not exist yet (QEMU starting). */
export async function openAgentStream(target: AgentTarget, deadline: number): Promise<OpenStream> {
  const ch = target.channel;
  if (ch.kind !== 'pool') {
    const socket = await retryConnect(target, deadline, (timeout) =>
      ch.kind === 'vsock' ? Promise.resolve(connectVsock(ch.cid, AGENT_VSOCK_PORT, timeout)) : connectHybridVsock(ch.socket, AGENT_VSOCK_PORT, timeout),
    );
    return { socket, options: {}, release: () => undefined };
  }
  const pool = agentPool(ch.dir);
  const claim = await claimPort(pool, servedPorts(pool), Math.min(deadline, Date.now() + PORT_WAIT_MS));
  try {
    const socket = await retryConnect(target, deadline, (timeout) => connectUnix(pool.socket(claim.port), timeout));
    // A random session id: bytes a dead predecessor left in the port carry another one.
    const options = { session: randomInt(1, 2 ** 31 - 1), attach: { pad: claim.dirty ? DIRTY_PAD : 0 } };
    return { socket, options, port: { pool, k: claim.port }, release: (clean) => claim.release(clean) };
  } catch (err) {
    claim.release(!claim.dirty);
    throw err;
  }
}

async function retryConnect(target: AgentTarget, deadline: number, connect: (timeoutMs: number) => Promise<Socket>): Promise<Socket> {
  for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
    const left = deadline - Date.now();
    try {
      return await connect(Math.max(Math.min(left, 5000), 100));
    } catch (err) {
      if (Date.now() + delay >= deadline) throw notAnswering(target, err);
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

/**
 * Runs one command; the agent must start it (`started`) or end the session before
 * `deadline`, else the connection is dropped (the agent then kills the session) and a
 * TimeoutError (7) is thrown. `onSession` gets the session, for resize/signal.
 */
export async function execInVm(
  target: AgentTarget,
  request: ExecRequest,
  io: ExecIo,
  deadline: number,
  onSession?: (session: AgentSession) => void,
): Promise<ExecResult> {
  return inSession(target, deadline, (session, onStarted) => {
    onSession?.(session);
    return session.run(request, {
      ...io,
      onStarted: (pid, info) => {
        onStarted(info.ports);
        io.onStarted?.(pid, info);
      },
    });
  });
}

/**
 * Sends the Go agent's `reseed` (after a clone or restore) through the VM's channel, a pool
 * port included; the answer (`exit` or `error`) must come before `deadline`, else a
 * TimeoutError (7).
 */
export function reseedInVm(target: AgentTarget, request: ReseedRequest, deadline: number): Promise<ExecResult> {
  return inSession(target, deadline, (session) => session.reseed(request));
}

/**
 * One session on a freshly opened stream: until it is answered (`onStarted`, or its terminal
 * frame) the deadline drops the connection; after `started` a pool port is watched for a
 * dead agent. The port is given back clean unless the agent went away.
 */
async function inSession(
  target: AgentTarget,
  deadline: number,
  body: (session: AgentSession, onStarted: (ports: number | undefined) => void) => Promise<ExecResult>,
): Promise<ExecResult> {
  const stream = await openAgentStream(target, deadline);
  const { socket, port } = stream;
  const session = new AgentSession(socket, stream.options);
  let answered = false;
  let clean = false;
  let unwatch = () => {};
  const timer = setTimeout(() => {
    if (!answered) socket.destroy();
  }, Math.max(deadline - Date.now(), 0));
  try {
    const result = await body(session, (ports) => {
      answered = true;
      clearTimeout(timer);
      if (port) {
        if (ports !== undefined) recordServedPorts(port.pool, ports);
        unwatch = watchAgentPort(port.pool, port.k, () => session.abort(AGENT_GONE));
      }
    });
    clean = result.error !== AGENT_GONE;
    return result;
  } catch (err) {
    if (!answered && Date.now() >= deadline - 5) throw notAnswering(target, err);
    throw err;
  } finally {
    answered = true;
    clearTimeout(timer);
    unwatch();
    socket.destroy();
    stream.release(clean);
  }
}

const AGENT_GONE = 'the guest agent went away (its serial port closed)';

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
      // The channel broke (e.g. QEMU was still starting): try again.
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
