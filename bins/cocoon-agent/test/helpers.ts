/** Test harness: a real `cocoon-agent serve` process and a one-call exec over its sockets. */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'node:net';
import { AgentSession, type ExecRequest, type ExecResult, type SessionOptions } from '@cocoon/common/agent/client';
import { connectUnix } from '@cocoon/common/agent/connect';
import { spawn } from '@cocoon/common/exec';
import { after, before } from 'node:test';

export const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

/** A running tool process started with tsx (the same code the bundle ships). */
export interface Proc {
  pid: number;
  child: ReturnType<typeof spawn>;
  stderr: () => string;
  stop: () => Promise<void>;
}

/** Starts `cocoon-agent ARGS…` and waits until its stderr contains `ready` (or `readyFile` exists). */
export async function startTool(args: string[], ready: () => boolean | string = () => false): Promise<Proc> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdin: 'ignore', stdout: 'ignore', stderr: 'pipe', buffer: false, reject: false, cleanup: true });
  let err = '';
  child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 15000;
  while (!err.includes('ready') && !ready()) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`tool did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    pid: child.pid ?? 0,
    child,
    stderr: () => err,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A fresh temp dir, removed by the returned cleanup. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'cocoon-agent-test-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Collects bytes written to it; `delayMs` slows it down once after `pauseAt` bytes. */
export class Sink extends Writable {
  chunks: Buffer[] = [];
  bytes = 0;
  constructor(private readonly keep = true, private readonly onBytes?: (n: number) => Promise<void> | void) {
    super({ highWaterMark: 64 * 1024 });
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error) => void): void {
    this.bytes += chunk.length;
    if (this.keep) this.chunks.push(chunk);
    const p = this.onBytes?.(this.bytes);
    if (p) p.then(() => cb(), cb);
    else cb();
  }
  get data(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

export interface ExecOutput extends ExecResult {
  stdout: Buffer;
  stderr: Buffer;
  pid?: number;
  /** The agent granted binary data frames. */
  binary: boolean;
}

/** Runs one command over a connected socket and collects everything. */
export async function execOn(socket: Socket, request: ExecRequest, opts: { stdin?: NodeJS.ReadableStream; options?: SessionOptions; stdout?: Sink } = {}): Promise<ExecOutput> {
  const stdout = opts.stdout ?? new Sink();
  const stderr = new Sink();
  let pid: number | undefined;
  let binary = false;
  const result = await new AgentSession(socket, opts.options).run(request, {
    stdin: opts.stdin as never,
    stdout,
    stderr,
    onStarted: (p, info) => {
      pid = p;
      binary = info.binary;
    },
  });
  return { ...result, stdout: stdout.data, stderr: stderr.data, pid, binary };
}

/** Runs one command on the agent's test Unix socket. */
export async function execUnix(path: string, request: ExecRequest, opts: { stdin?: NodeJS.ReadableStream; stdout?: Sink; options?: SessionOptions } = {}): Promise<ExecOutput> {
  return execOn(await connectUnix(path), request, opts);
}

/** Whether a pid exists (and is not a zombie). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Polls until `fn` is true or `ms` passed. */
export async function until(fn: () => boolean, ms = 3000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

/** Open fds of a process. */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Direct children of a process (non-zombie). */
export function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((p) => {
      try {
        const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
        const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return Number(rest[1]) === pid && rest[0] !== 'Z';
      } catch {
        return false;
      }
    });
}

/** Resident memory of a process in bytes. */
export function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

/**
 * For a suite: one `cocoon-agent serve` on a Unix socket, started before its tests and
 * stopped after them. `agent()` is the running process.
 */
export function agentOnUnixSocket(): { sock: string; agent: () => Proc } {
  const tmp = tempDir();
  const sock = `${tmp.dir}/agent.sock`;
  let proc: Proc | undefined;
  before(async () => {
    proc = await startTool(['serve', '--no-vsock', '--listen-unix', sock]);
  });
  after(async () => {
    await proc?.stop();
    tmp.cleanup();
  });
  return {
    sock,
    agent: () => {
      if (!proc) throw new Error('Assertion failed: agent used before it started');
      return proc;
    },
  };
}
