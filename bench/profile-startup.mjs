#!/usr/bin/env node
// Where does start-up time go? Runs a bundled tool under `node --cpu-prof` a few times and
// attributes the sampled self time to the bundled modules and packages, using the
// `// path/of/module.js` markers esbuild writes before each module it inlines.
//
//   node bench/profile-startup.mjs BUNDLE.cjs [ARGS...]      (env is passed through)
//
// Prints self time per package (node_modules/<pkg> or the workspace folder) on stdout;
// PROFILE_BY=module splits by module file, PROFILE_RUNS sets the number of runs (10).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const RUNS = Number(process.env.PROFILE_RUNS ?? 10);
// `… | head` closes the pipe early; that is not an error of this script
process.stdout.on('error', (err) => {
  if (err.code !== 'EPIPE') throw err;
});
const [bundlePath, ...args] = process.argv.slice(2);
if (!bundlePath) {
  process.stderr.write('usage: node bench/profile-startup.mjs BUNDLE.cjs [ARGS...]\n');
  process.exitCode = 2;
} else {
  report(profile(resolve(bundlePath), args));
}

/** Starts of each module section in the bundle, by line (0-based), sorted. */
function moduleSections(bundle) {
  const sections = [];
  readFileSync(bundle, 'utf8').split('\n').forEach((line, index) => {
    const match = /^\/\/ (?:\.\.\/)*(\S+\.(?:[cm]?js|ts|json))$/.exec(line);
    if (match) sections.push({ line: index, module: match[1] });
  });
  return sections;
}

function moduleAt(sections, line) {
  let lo = 0;
  let hi = sections.length - 1;
  let found = '(esbuild runtime helpers)';
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (sections[mid].line <= line) {
      found = sections[mid].module;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/** Groups a module path into its package: node_modules/<pkg> or the workspace folder. */
function packageOf(module) {
  const parts = module.split('/');
  if (parts[0] === 'node_modules') return parts[1].startsWith('@') ? `${parts[1]}/${parts[2]}` : parts[1];
  // a bin's own files are `src/…` relative to its dist folder
  return parts[0] === 'src' ? 'src (the bin itself)' : parts.slice(0, parts[0] === 'scripts' ? 1 : 2).join('/');
}

/** PROFILE_BY=module reports single modules instead of packages. */
function bucketOf(module) {
  return process.env.PROFILE_BY === 'module' ? module : packageOf(module);
}

/** Runs the bundle RUNS times with --cpu-prof; returns self milliseconds per bucket, averaged. */
function profile(bundle, argv) {
  const sections = moduleSections(bundle);
  const dir = mkdtempSync(join(tmpdir(), 'cocoon-prof-'));
  const totals = new Map();
  try {
    for (let i = 0; i < RUNS; i++) {
      execFileSync(process.execPath, ['--cpu-prof', '--cpu-prof-interval', '100', '--cpu-prof-dir', dir, bundle, ...argv], { stdio: ['ignore', 'ignore', 'ignore'] });
    }
    for (const file of readdirSync(dir)) addProfile(JSON.parse(readFileSync(join(dir, file), 'utf8')), bundle, sections, totals);
  } catch (err) {
    // a tool that exits non-zero still wrote its profile; keep what was sampled
    if (!err.status) throw err;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  for (const [key, value] of totals) totals.set(key, value / RUNS);
  return totals;
}

function addProfile(prof, bundle, sections, totals) {
  const selfMs = new Map();
  prof.samples.forEach((id, index) => selfMs.set(id, (selfMs.get(id) ?? 0) + (prof.timeDeltas[index] ?? 0) / 1000));
  const add = (bucket, ms) => totals.set(bucket, (totals.get(bucket) ?? 0) + ms);
  for (const node of prof.nodes) {
    const ms = selfMs.get(node.id) ?? 0;
    const frame = node.callFrame;
    if (ms === 0) continue;
    if (!frame.url.endsWith(bundle)) {
      add(frame.functionName === 'wrapSafe' ? '(compile the bundle)' : frame.url === '' ? frame.functionName || '(native)' : '(node internals)', ms);
      continue;
    }
    // Top-level code of a bundle is one function at line 0: split it by the sampled
    // lines (positionTicks, 1-based) so each inlined module gets its share.
    const ticks = node.positionTicks ?? [{ line: frame.lineNumber + 1, ticks: 1 }];
    const total = ticks.reduce((acc, t) => acc + t.ticks, 0);
    for (const t of ticks) add(bucketOf(moduleAt(sections, t.line - 1)), (ms * t.ticks) / total);
  }
}

function report(totals) {
  const rows = [...totals].sort((a, b) => b[1] - a[1]);
  const sum = rows.reduce((acc, [, ms]) => acc + ms, 0);
  process.stdout.write(`self time per ${process.env.PROFILE_BY === 'module' ? 'module' : 'package'}, mean of ${RUNS} runs (total ${sum.toFixed(1)} ms sampled)\n`);
  for (const [bucket, ms] of rows) {
    if (ms >= 0.2) process.stdout.write(`${ms.toFixed(1).padStart(8)} ms  ${bucket}\n`);
  }
}
