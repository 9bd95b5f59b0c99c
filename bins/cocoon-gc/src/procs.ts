/**
 * Leftover processes of a VM whose record is gone or was never finished: any process whose
 * command line names a file in the VM's run dir (its hypervisor, its agent relay). The run
 * dir path holds the VM's random ID, so a match is this VM's and nobody else's.
 */
import { readdir } from 'node:fs/promises';
import { processArgv, waitForExit } from '@cocoon/common/hypervisor/process';

/** PIDs of live processes with an argument inside `dir`. */
export async function processesUsing(dir: string): Promise<number[]> {
  const prefix = `${dir}/`;
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const argv = processArgv(Number(name));
    // NOTE: anywhere in an argument (`-pidfile DIR/…`, `filename=DIR/…`, `path=DIR/…`).
    if (argv?.some((a) => a.includes(prefix))) pids.push(Number(name));
  }
  return pids;
}

/**
 * Ends every process using `dir`: SIGTERM, then SIGKILL for those still there after 2 s.
 * Each PID is checked again right before each signal (a PID can be reused).
 */
export async function killProcessesUsing(dir: string): Promise<number[]> {
  const pids = await processesUsing(dir);
  const send = async (signal: NodeJS.Signals) => {
    const still = await processesUsing(dir);
    for (const pid of pids.filter((p) => still.includes(p))) {
      try {
        process.kill(pid, signal);
      } catch {
        // gone meanwhile
      }
    }
  };
  await send('SIGTERM');
  for (const pid of pids) await waitForExit(pid, 2000);
  await send('SIGKILL');
  for (const pid of pids) await waitForExit(pid, 5000);
  return pids;
}
