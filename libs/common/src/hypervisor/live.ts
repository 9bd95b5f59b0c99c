/**
 * The live state of a VM record (cheap: /proc and stat reads, no subprocess).
 *
 * The record is not the only witness: a command killed while it started a VM leaves a running
 * hypervisor the record does not know (`created`, pid 0), and one killed while it created a VM
 * leaves a `creating` record nobody will finish. So the hypervisor is looked for in the record
 * AND in the pid file the hypervisor writes into the VM's run dir, and a `creating` record
 * whose creator process is gone is shown as the interrupted creation it is. Every PID is
 * verified before it is believed: alive, its command line names this VM's control socket,
 * and its start time matches the record's (or precedes the pid file it wrote).
 * Shared by the front end and cocoon-snap (a save or restore must see the same VM state).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { InvalidStateError } from '../errors.ts';
import type { Layout } from '../layout.ts';
import { identityAlive, procStat, startedAtMs } from '../proc.ts';
import type { VmRecord, VmState } from '../schemas/vm.ts';
import { driverFor } from './drivers.ts';
import { vmPaths } from './index.ts';

/** Whether a VM in `state` has a hypervisor process (running or paused). */
export function isLive(state: VmState): boolean {
  return state === 'running' || state === 'paused';
}

/** A hypervisor process of a VM, verified; `known` is false when only its pid file knew it. */
export interface FoundHypervisor {
  pid: number;
  startTime: number;
  known: boolean;
}

/** The VM's live hypervisor: the record's, or one only its pid file knows; null when none runs. */
export function findHypervisor(layout: Layout, vm: VmRecord): FoundHypervisor | null {
  const paths = vmPaths(layout, vm.id);
  const driver = driverFor(vm.hypervisor);
  if (vm.pid > 0 && driver.inspect(paths, vm.pid).running) {
    const startTime = procStat(vm.pid)?.start ?? -1;
    if (vm.pid_start_time === undefined || vm.pid_start_time === startTime) return { pid: vm.pid, startTime, known: isLive(vm.state) };
  }
  const fromFile = pidFromFile(paths.pidFile);
  if (fromFile === null || !driver.inspect(paths, fromFile.pid).running) return null;
  // The process wrote the file, so it existed then: a later process with a reused PID did not.
  const started = startedAtMs(fromFile.pid);
  if (started === null || started > fromFile.writtenMs + 1000) return null;
  return { pid: fromFile.pid, startTime: procStat(fromFile.pid)?.start ?? 0, known: false };
}

function pidFromFile(file: string): { pid: number; writtenMs: number } | null {
  // NOTE: most VMs have no pid file (stopped); existsSync answers without building an ENOENT
  // error, which costs ~0.1 ms each in a fresh process (`vm list` of 1,000 VMs).
  if (!existsSync(file)) return null;
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 1 ? { pid, writtenMs: statSync(file).mtimeMs } : null;
  } catch {
    return null;
  }
}

/** Whether `vm` is a `creating` record whose creator process is gone (an interrupted create). */
export function creationInterrupted(vm: VmRecord): boolean {
  if (vm.state !== 'creating') return false;
  return !vm.creator || !identityAlive({ pid: vm.creator.pid, start: vm.creator.start_time });
}

/** Why an interrupted creation is shown as `error`. */
export function interruptedReason(vm: VmRecord): string {
  const who = vm.creator ? `its creator (pid ${vm.creator.pid})` : 'its creator';
  return `creation interrupted: ${who} is gone; remove it with "cocoon vm rm ${vm.config.name}"`;
}

/**
 * `running` (or `paused`) while a hypervisor of the VM runs, whatever the record says;
 * `error` for an interrupted creation; otherwise the recorded state.
 */
export function liveState(layout: Layout, vm: VmRecord): VmState {
  if (vm.state === 'creating') return creationInterrupted(vm) ? 'error' : 'creating';
  const found = findHypervisor(layout, vm);
  if (found) return isLive(vm.state) ? vm.state : 'running';
  return isLive(vm.state) ? 'stopped' : vm.state;
}

/**
 * The hypervisor of a VM its record knows to be running or paused (PID verified), for the
 * commands that act on a live VM (pause, resume, snapshot save, restore); otherwise an
 * InvalidStateError (`why` says what to do instead). One that only a pid file knows (left by
 * an interrupted start) is not acted on: `vm start` adopts it first.
 */
export function liveHypervisor(layout: Layout, vm: VmRecord, why?: string): FoundHypervisor {
  const found = findHypervisor(layout, vm);
  if (found?.known) return found;
  const state = found ? `${vm.state}, with a hypervisor left by an interrupted start: "cocoon vm start ${vm.config.name}" takes it over` : liveState(layout, vm);
  throw new InvalidStateError(`VM "${vm.config.name}" is not running (state: ${state})${why ? `: ${why}` : ''}`);
}
