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
  /** When re-identification must be done (ms since the epoch). */
  deadline: number;
  /** What was added live (grow): vCPUs and memory to bring online, and how many NICs (the last ones) were plugged. */
  grown?: Grown;
}

/** Re-identifies `vm`; returns the shell hints when its agent did not answer (else null). */
export async function reidentify(layout: Layout, vm: VmRecord, opts: ReidentifyOptions): Promise<string | null> {
  const { deadline } = opts;
  const target = { ...(await agentTarget(layout, vm.id)), patienceMs: Math.max(deadline - Date.now(), 0) };
  const lines = [...(opts.clone ? identityLines(vm, opts.grown) : []), ...(opts.grown ? onlineLines() : [])];
  for (let patienceMs = FIRST_ANSWER_MS; ; patienceMs = Math.min(patienceMs * 2, MAX_ANSWER_MS)) {
    try {
      await reseed(target, opts.clone, Math.min(deadline, Date.now() + patienceMs));
      if (lines.length > 0) await configure(target, ['set -e', ...lines].join('\n'), deadline);
      return null;
    } catch (err) {
      if (err instanceof TimeoutError && Date.now() >= deadline) return hints(vm, opts);
      // An unanswered reseed is sent again (it is idempotent): a frame that reached the
      // resumed guest while its agent was reopening the serial port is lost without an error.
      if (err instanceof TimeoutError) continue;
      // A resumed guest's agent reopens its serial port once (the host end changed under it):
      // sessions caught in that moment end early, and are simply run again.
      if (!TRANSIENT.test((err as Error).message) || Date.now() >= deadline) throw err;
      await sleep(RETRY_MS);
    }
  }
}

const TRANSIENT = /went away|closed before|connection closed|ECONNRESET|EPIPE/;
/** How long one reseed may go unanswered before it is sent again (doubling, up to the max). */
const FIRST_ANSWER_MS = 2_000;
const MAX_ANSWER_MS = 16_000;
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

/** What grew live: how many of the VM's NICs (the last ones) were just plugged. */
export interface Grown {
  nics: number;
}

/**
 * The guest-side commands: hostname, clock, then per NIC its MAC and address, and the default
 * route. A NIC the guest had is `eth<i>`; one just plugged is found by its MAC once the guest
 * has probed it (bounded wait: it names it whatever its next free name is).
 */
export function identityLines(vm: VmRecord, grown?: Grown): string[] {
  const host = hostnameFor(vm.config.name);
  const lines = [`hostname ${q(host)}`, `echo ${q(host)} > /etc/hostname`, `date -s @${Math.floor(Date.now() / 1000)} >/dev/null 2>&1 || true`];
  const nics = vm.network_configs ?? [];
  nics.forEach((nic, i) => {
    let dev = `eth${i}`;
    if (i >= nics.length - (grown?.nics ?? 0)) {
      dev = `"$nic${i}"`;
      lines.push(`nic${i}=$(${findByMac(nic.mac)})`);
    }
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

/** Seconds a guest may take to probe a NIC plugged live. */
const NIC_PROBE_S = 60;

/** A command printing the name of the interface with `mac`, waiting for it to appear. */
function findByMac(mac: string): string {
  const tries = NIC_PROBE_S * 5;
  return `n=0; while :; do for a in /sys/class/net/*/address; do [ "$(cat "$a")" = ${q(mac.toLowerCase())} ] && { d=\${a%/address}; echo "\${d##*/}"; exit 0; }; done; [ $n -lt ${tries} ] || { echo "no NIC with MAC ${mac} appeared" >&2; exit 1; }; n=$((n+1)); sleep 0.2; done`;
}

/**
 * Brings vCPUs and memory added live online: the kernel never onlines a vCPU by itself, and
 * onlines memory only when told to (cocoon's kernel command line does; an image's own may not).
 */
export function onlineLines(): string[] {
  return [
    'for f in /sys/devices/system/cpu/cpu[0-9]*/online; do if [ -e "$f" ] && [ "$(cat "$f")" = 0 ]; then echo 1 > "$f"; fi; done',
    'for f in /sys/devices/system/memory/memory[0-9]*/state; do if [ -e "$f" ] && [ "$(cat "$f")" = offline ]; then echo online > "$f"; fi; done',
  ];
}

/** What to paste into a guest without an agent (the Go cocoon's hints). */
function hints(vm: VmRecord, opts: ReidentifyOptions): string {
  const clone = opts.clone;
  const lines = [...(clone ? identityLines(vm, opts.grown) : []), ...(opts.grown ? onlineLines() : [])];
  lines.push('# then reseed the random generator, e.g. with fresh bytes from the host into /dev/urandom');
  if (clone) lines.push('# and give the guest a new /etc/machine-id (e.g. systemd-machine-id-setup after removing it)');
  return `the guest agent of VM "${vm.config.name}" did not answer; run this inside the guest:\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
}
