#!/usr/bin/env node
// Prints the start-up benchmark table from hyperfine's JSON export: mean, spread, ratio
// to the first command (the `node -e 0` floor) and the target, with PASS/MISS per row
// (judged on the wall-clock median).
//
//   node bench/startup-report.mjs RESULT.json
import { readFileSync } from 'node:fs';

/** Targets of issue 2, by the prefix of the command's name. @type {Array<[string, number]>} */
const TARGETS = [
  ['cocoon version', 1.3],
  ['cocoon vm list', 2],
];

const file = process.argv[2];
if (!file) throw new Error('usage: startup-report.mjs RESULT.json');
const parsed = JSON.parse(readFileSync(file, 'utf8'));
if (!Array.isArray(parsed?.results) || parsed.results.length === 0) throw new Error(`${file}: no hyperfine results`);
const results = parsed.results.map((r) => {
  if (typeof r.command !== 'string' || typeof r.mean !== 'number' || typeof r.stddev !== 'number' || typeof r.median !== 'number') {
    throw new Error(`${file}: unexpected hyperfine result shape`);
  }
  const cpu = typeof r.user === 'number' && typeof r.system === 'number' ? (r.user + r.system) * 1000 : NaN;
  return { name: r.command, mean: r.mean * 1000, median: r.median * 1000, stddev: r.stddev * 1000, cpu };
});
const floor = results[0];
if (!floor) throw new Error(`${file}: no hyperfine results`);
// The verdict uses the wall-clock median; CPU time (user+sys) is shown beside it because it
// moves less when other work shares the machine.
const rows = [['command', 'mean ms', '± ms', 'median ms', 'ratio', 'cpu ms', 'cpu ratio', 'target', '']];
let missed = 0;
for (const r of results) {
  const ratio = r.median / floor.median;
  const target = r === floor ? undefined : TARGETS.find(([prefix]) => r.name.startsWith(prefix))?.[1];
  const verdict = target === undefined ? '' : ratio <= target ? 'PASS' : 'MISS';
  if (verdict === 'MISS') missed++;
  const cpuRatio = `${(r.cpu / floor.cpu).toFixed(2)}x`;
  rows.push([r.name, r.mean.toFixed(1), r.stddev.toFixed(1), r.median.toFixed(1), `${ratio.toFixed(2)}x`, r.cpu.toFixed(1), cpuRatio, target ? `<= ${target}x` : '', verdict]);
}
const widths = (rows[0] ?? []).map((_, c) => Math.max(...rows.map((row) => (row[c] ?? '').length)));
for (const row of rows) process.stdout.write(`${row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  ')}\n`);
const judged = rows.slice(1).filter((row) => row[8] !== '').length;
if (missed) process.stdout.write(`${missed} of ${judged} target(s) missed (bench/profile-startup.mjs shows where the time goes)\n`);
else if (judged > 0) process.stdout.write(`all ${judged} target(s) met\n`);
