/**
 * The cost of the room every QEMU launch reserves to grow live (maxcpus, DIMM slots + maxmem,
 * spare PCIe root ports, `swiotlb=noforce memhp_default_state=online`), side by side in one
 * run: the VM's own command line (`vm debug`), the same without the room, and the room without
 * `swiotlb=noforce` (what a kernel that cocoon does not configure pays). Each variant boots the
 * default guest to its readiness marker, alternating, ROUNDS times; reported: wall time to the
 * marker (median), the kernel's "Memory: …K available" and QEMU's RSS at the marker.
 *
 *   node --import tsx bench/headroom.ts COCOON ROUNDS
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { HOTPLUG_KERNEL_ARGS } from '@cocoon/common/hypervisor/qemu/hotplug';

const [cocoon = 'cocoon', roundsArg = '3'] = process.argv.slice(2);
const rounds = Number(roundsArg);
const NAME = 'bench-room';
const READY = 'cocoon: guest ready';

const argAt = (argv: string[], flag: string) => argv.indexOf(flag) + 1;

/** The VM's argv with the room taken out (`-smp N`, `-m SIZE`, no spare ports, no kernel parameters). */
function withoutRoom(argv: string[]): string[] {
  const out = [...argv];
  out[argAt(out, '-smp')] = (out[argAt(out, '-smp')] ?? '').split(',')[0] ?? '';
  out[argAt(out, '-m')] = (out[argAt(out, '-m')] ?? '').split(',')[0] ?? '';
  out[argAt(out, '-append')] = (out[argAt(out, '-append')] ?? '').replace(` ${HOTPLUG_KERNEL_ARGS}`, '');
  for (let i = out.length - 1; i > 0; i--) if (out[i]?.startsWith('pcie-root-port,')) out.splice(i - 1, 2);
  return out;
}

/** The room, with the SWIOTLB buffer the kernel allocates by default when memory can appear above 4 GiB. */
function withSwiotlb(argv: string[]): string[] {
  const out = [...argv];
  out[argAt(out, '-append')] = (out[argAt(out, '-append')] ?? '').replace('swiotlb=noforce ', '');
  return out;
}

interface Sample {
  ms: number;
  /** QEMU's CPU time (user + system) to the marker: less sensitive than wall time to a busy host. */
  cpuMs: number;
  availableKiB: number;
  rssKiB: number;
}

/** Boots `argv` until the readiness marker shows in `consoleLog`; kills it. */
async function boot(argv: string[], consoleLog: string): Promise<Sample> {
  writeFileSync(consoleLog, '');
  const t0 = performance.now();
  const qemu = spawn(argv[0] as string, argv.slice(1), { stdio: 'ignore' });
  try {
    for (;;) {
      await new Promise((r) => setTimeout(r, 50));
      if (qemu.exitCode !== null) throw new Error(`QEMU exited (${qemu.exitCode}) before the guest was ready`);
      const log = readFileSync(consoleLog, 'utf8');
      if (!log.includes(READY)) continue;
      const ms = performance.now() - t0;
      const availableKiB = Number(/Memory: (\d+)K\/\d+K available/.exec(log)?.[1] ?? NaN);
      const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${qemu.pid}/status`, 'utf8'))?.[1] ?? NaN);
      // Fields 14 and 15 of /proc/PID/stat (utime, stime) in clock ticks (100 per second on Linux).
      const raw = readFileSync(`/proc/${qemu.pid}/stat`, 'utf8');
      const stat = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
      const cpuMs = (Number(stat[11]) + Number(stat[12])) * 10;
      return { ms, cpuMs, availableKiB, rssKiB };
    }
  } finally {
    qemu.kill('SIGKILL');
    await new Promise((r) => qemu.once('exit', r));
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

const cli = (args: string[]) => execFileSync(cocoon, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
const removeVm = () => {
  try {
    cli(['vm', 'rm', '--force', NAME]);
  } catch {
    // not there
  }
};

async function main(): Promise<void> {
  removeVm();
  cli(['vm', 'create', '--name', NAME, '--cpu', '1', '--nics', '0', '--memory', '256M', '--storage', '1G', 'default']);
  try {
    const room = z.array(z.string()).parse(JSON.parse(cli(['vm', 'debug', '--format', 'json', NAME])));
    const inspect = z.object({ runtime: z.object({ consoleLog: z.string() }) }).parse(JSON.parse(cli(['vm', 'inspect', NAME])));
    mkdirSync(dirname(inspect.runtime.consoleLog), { recursive: true });
    const variants = { 'no room': withoutRoom(room), 'room (cocoon)': room, 'room, SWIOTLB on': withSwiotlb(room) };
    const samples: Record<string, Sample[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
    for (let r = 0; r < rounds; r++) for (const [k, argv] of Object.entries(variants)) samples[k]?.push(await boot(argv, inspect.runtime.consoleLog));
    const base = samples['no room'] ?? [];
    const b = { ms: median(base.map((s) => s.ms)), cpu: median(base.map((s) => s.cpuMs)), av: median(base.map((s) => s.availableKiB)), rss: median(base.map((s) => s.rssKiB)) };
    console.log(`room to grow (-smp ${room[argAt(room, '-smp')]}, -m ${room[argAt(room, '-m')]}, 8 spare ports), ${rounds} boots each, medians`);
    console.log('variant               boot→ready (wall)   QEMU CPU to ready   guest memory available        QEMU RSS');
    for (const [k, xs] of Object.entries(samples)) {
      const ms = median(xs.map((s) => s.ms));
      const cpu = median(xs.map((s) => s.cpuMs));
      const av = median(xs.map((s) => s.availableKiB));
      const rss = median(xs.map((s) => s.rssKiB));
      console.log(
        `${k.padEnd(20)} ${(ms / 1000).toFixed(2).padStart(6)} s ${(ms / b.ms).toFixed(2)}x   ${(cpu / 1000).toFixed(2).padStart(6)} s ${(cpu / b.cpu).toFixed(2)}x   ` +
          `${(av / 1024).toFixed(1).padStart(7)} MiB (${((av - b.av) / 1024).toFixed(1).padStart(6)})   ${(rss / 1024).toFixed(0).padStart(5)} MiB (${((rss - b.rss) / 1024).toFixed(1).padStart(6)})`,
      );
    }
  } finally {
    removeVm();
  }
}

await main();
