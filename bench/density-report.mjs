#!/usr/bin/env node
// Part of bench/density.sh.
//   density-report.mjs sample IMAGE N DISK GUEST_TEXT RUN_DIR…   one NDJSON line on stdout
//   density-report.mjs report FILE                             the table
// "Every host process of a VM" is every process whose command line names the VM's run dir
// (QEMU; an older build's per-VM relay too); its memory is the PSS from smaps_rollup.
import { readdirSync, readFileSync, statSync } from 'node:fs';

const [mode, ...args] = process.argv.slice(2);

function processesOf(runDir) {
  const pids = [];
  // NOTE: not this process, whose own arguments name the run dirs.
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid)) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((a) => a.includes(runDir))) pids.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

function pssKiB(pid) {
  const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

function kib(text, key) {
  return Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
}

if (mode === 'sample') {
  const [image = '', n = '0', disk = '', guest = '', ...runDirs] = args;
  const pids = runDirs.flatMap(processesOf);
  const st = statSync(disk);
  const lines = guest.trim().split('\n');
  console.log(JSON.stringify({
    image,
    vms: Number(n),
    processes: pids.length,
    pss_kib: pids.reduce((sum, pid) => sum + pssKiB(pid), 0),
    layer_bytes: st.size,
    layer_disk_bytes: st.blocks * 512,
    agent: { rss_kib: kib(guest, 'VmRSS'), anon_kib: kib(guest, 'RssAnon'), file_kib: kib(guest, 'RssFile') },
    guest: { total_kib: kib(guest, 'MemTotal'), free_kib: kib(guest, 'MemFree'), cached_kib: kib(guest, 'Cached') },
    dax_mounts: Number(lines.at(-1)),
  }));
} else if (mode === 'report') {
  const rows = readFileSync(args[0] ?? '', 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const mb = (kibs) => (kibs / 1024).toFixed(1);
  console.log('image            VMs  procs  host PSS MiB  per VM  agent RSS/anon/file MiB  guest cache MiB  DAX mounts');
  for (const r of rows) {
    console.log(`${r.image.padEnd(16)} ${String(r.vms).padStart(3)} ${String(r.processes).padStart(6)} ${mb(r.pss_kib).padStart(13)} ${mb(r.pss_kib / r.vms).padStart(7)}  ${`${mb(r.agent.rss_kib)}/${mb(r.agent.anon_kib)}/${mb(r.agent.file_kib)}`.padStart(22)} ${mb(r.guest.cached_kib).padStart(16)} ${String(r.dax_mounts).padStart(11)}`);
  }
  const images = [...new Set(rows.map((r) => r.image))];
  const extra = {};
  for (const image of images) {
    const of = (n) => rows.find((r) => r.image === image && r.vms === n);
    const [one, four] = [of(1), of(4)];
    const layer = rows.find((r) => r.image === image);
    if (one && four) extra[image] = (four.pss_kib - one.pss_kib) / 3;
    console.log(`${image}: agent layer ${(layer.layer_bytes / 2 ** 20).toFixed(1)} MiB (${(layer.layer_disk_bytes / 2 ** 20).toFixed(1)} MiB allocated)${one && four ? `; each additional VM: ${mb(extra[image])} MiB of host PSS` : ''}`);
  }
  const [a, b] = images;
  if (a && b && extra[a] !== undefined && extra[b] !== undefined) {
    console.log(`saving per additional VM, ${a} over ${b}: ${mb(extra[b] - extra[a])} MiB`);
  }
} else {
  process.stderr.write('usage: density-report.mjs sample|report …\n');
  process.exitCode = 2;
}
