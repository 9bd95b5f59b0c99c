/**
 * A VM resumed from a snapshot is, inside, still the VM the snapshot was taken of: same
 * hostname, addresses, CRNG state and machine id. Through the guest agent (no manual step,
 * unlike the Go cocoon's printed hints): the Go agent's `reseed` frame (host entropy, CRNG
 * reseed, and for a clone a new machine id), then one `exec` of a small script that sets the
 * hostname, the clock, and each NIC's MAC and address. Both run under one deadline, so a
 * guest without an agent costs a bounded wait and a printed list of the commands to run.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Writable } from 'node:stream';
import { decodeFrame, encodeFrame, LineDecoder } from '@cocoon/common/agent/codec';
import { ExternalError, TimeoutError } from '@cocoon/common/errors';
import type { Layout } from '@cocoon/common/layout';
import { hostnameFor } from '@cocoon/common/refs';
import { AGENT_FRAME_TYPES, AgentFrameSchema } from '@cocoon/common/schemas/agent';
import type { VmRecord } from '@cocoon/common/schemas/vm';
import { agentTarget, connectAgent, execInVm, type AgentTarget } from './agent.ts';

/** How long re-identification may take before the hints are printed instead. */
export const REIDENTIFY_TIMEOUT_MS = 90_000;

export interface ReidentifyOptions {
  /** A clone gets a new machine id and hostname; a restore keeps them (only the CRNG rotates). */
  clone: boolean;
  timeoutMs: number;
}

/** Re-identifies `vm`; returns the shell hints when its agent did not answer (else null). */
export async function reidentify(layout: Layout, vm: VmRecord, opts: ReidentifyOptions): Promise<string | null> {
  const target = { ...(await agentTarget(layout, vm.id)), patienceMs: opts.timeoutMs };
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    try {
      await reseed(target, opts.clone, deadline);
      if (opts.clone) await configure(target, identityScript(vm), deadline);
      return null;
    } catch (err) {
      if (err instanceof TimeoutError) return hints(vm, opts.clone);
      // A resumed guest's agent reopens its serial port once (the host end changed under it):
      // sessions caught in that moment end early, and are simply run again.
      if (!TRANSIENT.test((err as Error).message) || Date.now() >= deadline) throw err;
      await sleep(RETRY_MS);
    }
  }
}

const TRANSIENT = /went away|closed before|connection closed|ECONNRESET|EPIPE/;
const RETRY_MS = 250;

/** One `reseed` session: the frame, then its `exit` (or `error`) before `deadline`. */
async function reseed(target: AgentTarget, regen: boolean, deadline: number): Promise<void> {
  const socket = await connectAgent(target, deadline);
  const entropy = randomBytes(64);
  const result = await new Promise<{ type: string; message?: string }>((resolve, reject) => {
    const decoder = new LineDecoder();
    const timer = setTimeout(() => done(new TimeoutError('the guest agent did not answer the reseed in time')), Math.max(deadline - Date.now(), 0));
    const done = (err: Error | null, frame?: { type: string; message?: string }) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(frame as { type: string; message?: string });
    };
    socket.on('data', (chunk: Buffer) => {
      for (const line of decoder.push(chunk)) {
        if (line instanceof Error) return done(line);
        const { frame } = decodeFrame(line, AgentFrameSchema, AGENT_FRAME_TYPES);
        if (frame?.type === 'exit' || frame?.type === 'error') return done(null, frame);
      }
    });
    socket.once('close', () => done(new ExternalError('the agent connection closed before the reseed was answered')));
    socket.resume();
    socket.write(encodeFrame({ type: 'reseed', data: entropy.toString('base64'), regen_machine_id: regen }));
  });
  entropy.fill(0);
  if (result.type === 'error') throw new ExternalError(`the guest agent could not reseed: ${result.message}`);
}

/** Runs the identity script; a non-zero exit is reported with its stderr. */
async function configure(target: AgentTarget, script: string, deadline: number): Promise<void> {
  const chunks: Buffer[] = [];
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  const stderr = new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c), cb()) });
  const result = await execInVm(target, { argv: ['/bin/sh', '-c', script] }, { stdout: sink, stderr }, deadline);
  if (result.error !== undefined || result.exitCode !== 0) {
    throw new ExternalError(`re-identifying the guest failed (exit ${result.exitCode}): ${result.error ?? Buffer.concat(chunks).toString('utf8').trim().split('\n').pop()}`);
  }
}

/** Shell-quotes one word. */
function q(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}

/** The guest-side commands: hostname, clock, then per NIC its MAC and address, and the default route. */
export function identityLines(vm: VmRecord): string[] {
  const host = hostnameFor(vm.config.name);
  const lines = [`hostname ${q(host)}`, `echo ${q(host)} > /etc/hostname`, `date -s @${Math.floor(Date.now() / 1000)} >/dev/null 2>&1 || true`];
  (vm.network_configs ?? []).forEach((nic, i) => {
    const dev = `eth${i}`;
    lines.push(`ip link set dev ${dev} down`, `ip link set dev ${dev} address ${q(nic.mac)}`, `ip addr flush dev ${dev}`);
    if (nic.network?.ip && nic.network.prefix !== undefined) lines.push(`ip addr add ${q(`${nic.network.ip}/${nic.network.prefix}`)} dev ${dev}`);
    lines.push(`ip link set dev ${dev} up`);
    if (i === 0 && nic.network?.gateway) lines.push(`ip route replace default via ${q(nic.network.gateway)} dev ${dev}`);
  });
  // Addresses only (they land in a file): anything else in the record is left out.
  const dns = (vm.config.dns ?? []).filter((d) => /^[0-9A-Fa-f:.]+$/.test(d)).slice(0, 3);
  if ((vm.network_configs ?? []).length > 0 && dns.length > 0) lines.push(`printf '${dns.map((d) => `nameserver ${d}\\n`).join('')}' > /etc/resolv.conf`);
  return lines;
}

function identityScript(vm: VmRecord): string {
  return ['set -e', ...identityLines(vm)].join('\n');
}

/** What to paste into a guest without an agent (the Go cocoon's hints). */
function hints(vm: VmRecord, clone: boolean): string {
  const lines = clone ? identityLines(vm) : [];
  lines.push('# then reseed the random generator, e.g. with fresh bytes from the host into /dev/urandom');
  if (clone) lines.push('# and give the guest a new /etc/machine-id (e.g. systemd-machine-id-setup after removing it)');
  return `the guest agent of VM "${vm.config.name}" did not answer; run this inside the guest:\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
}
