/**
 * The QEMU driver: launches `qemu-system-x86_64` detached and controls it over QMP.
 * NOTE: execa and pino are imported inside the methods that use them, so read-only
 * commands (`vm list`, `vm inspect`) that only call `inspect()` start without them.
 */
import { mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { readFile, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ExternalError, TimeoutError } from '../../errors.ts';
import type { CommandLine, Hypervisor, LaunchSpec, RuntimeState, StopOptions, StopOutcome, VmPaths } from '../index.ts';
import { pidBelongsTo, processArgv, signalIfOwned, waitForExit } from '../process.ts';
import { qemuCommandLine } from './args.ts';
import { QmpGreetingSchema } from '../../schemas/qmp.ts';
import { QmpClient } from './qmp.ts';

const TERM_GRACE_MS = 5000;
const KILL_GRACE_MS = 5000;

export class QemuDriver implements Hypervisor {
  readonly kind = 'qemu' as const;

  constructor(private readonly binary = 'qemu-system-x86_64') {}

  commandLine(spec: LaunchSpec): CommandLine {
    return qemuCommandLine(spec, this.binary);
  }

  async create(): Promise<void> {}

  async start(spec: LaunchSpec, timeoutMs: number, onSpawned?: (pid: number) => void): Promise<{ pid: number }> {
    const { paths } = spec;
    mkdirSync(paths.runDir, { recursive: true, mode: 0o700 });
    mkdirSync(paths.logDir, { recursive: true, mode: 0o700 });
    // NOTE: the agent's port pool starts empty: no claim, no learned port count from an earlier boot.
    await Promise.all([paths.apiSocket, paths.consoleSocket, paths.pidFile, paths.agentPoolDir].map((f) => rm(f, { force: true, recursive: true })));
    if (spec.vsockCid === null) mkdirSync(paths.agentPoolDir, { mode: 0o700 });
    const cmd = this.commandLine(spec);
    const { spawnDetached } = await import('../../spawn-detached.ts');
    const child = await spawnDetached(cmd.file, cmd.args, paths.hypervisorLog);
    let exited = false;
    void child.exited.then(() => {
      exited = true;
    });
    const pid = child.pid;
    onSpawned?.(pid);
    const deadline = Date.now() + timeoutMs;
    // NOTE: QEMU is usually ready within ~100 ms: poll tightly at first, then back off.
    for (let delay = 5, tries = 0; ; delay = ++tries < 100 ? 5 : Math.min(delay * 2, 100)) {
      if (exited || processArgv(pid) === null) {
        throw new ExternalError(`${cmd.file} exited during start: ${await lastLines(paths.hypervisorLog)}`);
      }
      if (await qmpGreets(paths.apiSocket, deadline)) break;
      if (Date.now() >= deadline) {
        signalIfOwned(pid, paths.apiSocket, 'SIGKILL');
        throw new TimeoutError(`QEMU did not answer on QMP within ${timeoutMs} ms`);
      }
      await sleep(delay);
    }
    return { pid };
  }

  async stop(paths: VmPaths, pid: number | null, opts: StopOptions): Promise<StopOutcome> {
    const marker = paths.apiSocket;
    if (!pid || !pidBelongsTo(pid, marker)) return 'not-running';
    const { log } = await import('../../log.ts');
    if (!opts.force) {
      try {
        const qmp = await QmpClient.open(paths.apiSocket, 2000);
        try {
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
    await Promise.all([paths.apiSocket, paths.consoleSocket, paths.agentSocket, paths.pidFile, paths.agentPoolDir].map((f) => rm(f, { force: true, recursive: true })));
  }
}

/**
 * Whether QEMU's monitor is up: it sends its greeting line to a new client at once. (The
 * capabilities handshake would add a round trip that tells nothing more.)
 */
function qmpGreets(socket: string, deadline: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(socket);
    let got = '';
    const done = (ok: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), Math.max(deadline - Date.now(), 100));
    s.setEncoding('utf8');
    s.on('data', (chunk: string) => {
      got += chunk;
      const nl = got.indexOf('\n');
      if (nl === -1) return;
      try {
        done(QmpGreetingSchema.safeParse(JSON.parse(got.slice(0, nl))).success);
      } catch {
        done(false);
      }
    });
    s.once('error', () => done(false));
    s.once('close', () => done(false));
  });
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
