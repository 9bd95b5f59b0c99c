/**
 * Hypervisor process checks. cocoon never signals a PID on trust: the PID must be alive
 * and its /proc cmdline must name this VM's own control socket (a PID can be reused).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { isRunning } from '../proc.ts';

/** The argv of a live, non-zombie process, or null. */
export function processArgv(pid: number): string[] | null {
  if (!isRunning(pid)) return null;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return null;
  }
}

/** Whether `pid` is alive and its command line contains `marker` (e.g. the VM's QMP socket path). */
export function pidBelongsTo(pid: number | null | undefined, marker: string): boolean {
  if (!pid) return false;
  const argv = processArgv(pid);
  return argv !== null && argv.some((a) => a.includes(marker));
}

/** Waits until `pid` is gone or a zombie; true if it went within `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let delay = 10;
  while (Date.now() < deadline) {
    if (processArgv(pid) === null) return true;
    await sleep(delay);
    delay = Math.min(delay * 2, 100);
  }
  return processArgv(pid) === null;
}

/** Sends `signal` to `pid` only if it still belongs to the VM; returns whether it was sent. */
export function signalIfOwned(pid: number, marker: string, signal: NodeJS.Signals): boolean {
  if (!pidBelongsTo(pid, marker)) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Live processes whose command line names a path inside `runDir` (a VM's own run dir, named by
 * its random ID): its hypervisor and relay, including ones no record or pid file knows (a
 * command killed between starting them and writing their PID down).
 */
export function vmProcesses(runDir: string): Array<{ pid: number; argv: string[] }> {
  const inside = `${runDir}/`;
  const found = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const argv = processArgv(pid);
    if (argv?.some((a) => a.includes(inside))) found.push({ pid, argv });
  }
  return found;
}

/** SIGKILLs every process of `vmProcesses(runDir)` (each re-checked just before) and waits for them. */
export async function killVmProcesses(runDir: string, timeoutMs = 5000): Promise<number[]> {
  const killed = [];
  for (const { pid } of vmProcesses(runDir)) {
    if (signalIfOwned(pid, `${runDir}/`, 'SIGKILL')) killed.push(pid);
  }
  for (const pid of killed) await waitForExit(pid, timeoutMs);
  return killed;
}
