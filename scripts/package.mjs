#!/usr/bin/env node
// Packages every cocoon tool as ONE multi-call single executable, offline:
//
//   dist/bin/cocoon              Node's own single-executable application (SEA)
//   dist/bin/cocoon-<tool>       relative symlinks to it (the tool is picked from argv0)
//   dist/bin/cocoon_native.node  the native addon (native.ts looks beside the executable)
//   dist/bin/THIRD-PARTY-NOTICES.txt  the licences of what the bundles and addons contain
//
// Why one executable: each SEA is a full copy of the Node binary (94 MiB, 82 MiB
// stripped); seven of them would cost ~590 MiB for ~10 MiB of our own bundles and caches.
//
// Steps: esbuild bundles each tool (bins/<tool>/src/main.ts) without whitespace or
// comments (ASCII only, so the loader decodes it as latin1); a V8 code cache of each bundle
// is trained by running that tool (scripts/train-code-cache.cjs); Node writes the SEA blob
// (main = scripts/sea-loader.cjs, which picks the tool by name; bundles and caches are
// assets); a copy of this Node binary is stripped when that works; postject injects the
// blob; a smoke test runs every name. Everything is built in a staging folder and swapped
// in at the end, so a failure never leaves a half-made dist/bin.
// Subprocesses are run with argument arrays (execFileSync), never through a shell.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { isAscii } from 'node:buffer';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bundle } from './bundle.mjs';
import { bundledPackages, writeNotices } from './notices.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');
const OUT = join(DIST, 'bin');
const NATIVE = join(ROOT, 'libs/common/build/Release/cocoon_native.node');
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const LOADER = join(ROOT, 'scripts/sea-loader.cjs');
const TRAINER = join(ROOT, 'scripts/train-code-cache.cjs');
/**
 * The per-tool names; each is a symlink to `cocoon`. One source: the tools are the folders of
 * bins/ (each with its src/main.ts); the SEA loader gets the list as the `tools.json` asset.
 */
export const TOOL_LINKS = readdirSync(join(ROOT, 'bins'))
  .filter((d) => d !== 'cocoon' && existsSync(join(ROOT, 'bins', d, 'src', 'main.ts')))
  .sort();
/** esbuild options of the executable's bundles: smaller text to decode and scan, no comments. */
/** @type {import('esbuild').BuildOptions} */
const SEA_BUNDLE_OPTIONS = { minifyWhitespace: true, charset: 'ascii' };

const MiB = 2 ** 20;
const mib = (bytes) => `${(bytes / MiB).toFixed(1)} MiB`;
const say = (line) => process.stderr.write(`package: ${line}\n`);

/** Runs a program with an argument array; returns its stdout. */
function run(file, args, opts = {}) {
  return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

/**
 * Writes the SEA preparation blob into `work`: the tiny loader is the main script; every
 * tool's bundle and trained code cache (when there is one) are assets.
 */
function seaBlob(tools, work) {
  const blob = join(work, 'sea-prep.blob');
  const config = join(work, 'sea-config.json');
  const assets = {};
  const toolsFile = join(work, 'tools.json');
  writeFileSync(toolsFile, JSON.stringify(['cocoon', ...TOOL_LINKS]));
  assets['tools.json'] = toolsFile;
  for (const { tool, bundleFile, cacheFile } of tools) {
    assets[`${tool}.cjs`] = bundleFile;
    if (cacheFile) assets[`${tool}.cache`] = cacheFile;
  }
  const settings = { main: LOADER, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true, useSnapshot: false, assets };
  writeFileSync(config, `${JSON.stringify(settings, null, 2)}\n`);
  run(process.execPath, ['--experimental-sea-config', config]);
  return blob;
}

/**
 * Makes the V8 code cache of one tool's bundle after running that tool in a throw-away root
 * (scripts/train-code-cache.cjs). Returns its path, or null when training failed: the
 * executable then works without it, only slower to start.
 */
function trainCache(tool, bundleFile, work) {
  const cache = join(work, `${tool}.cache`);
  const root = join(work, `train-root-${tool}`);
  /** @type {NodeJS.ProcessEnv} */
  const env = { ...process.env, COCOON_ROOT_DIR: root, COCOON_RUN_DIR: join(root, 'run'), COCOON_LOG_DIR: join(root, 'log') };
  delete env.COCOON_CONFIG;
  delete env.COCOON_TOOL;
  try {
    execFileSync(process.execPath, [TRAINER, tool, bundleFile, cache], { env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 });
    return cache;
  } catch (err) {
    const last = String(err.stderr ?? err.message ?? err).trim().split('\n').pop();
    say(`WARNING: code cache training of ${tool} failed (${last}); packaging it without one`);
    return null;
  }
}

/** Bundles every tool for the executable and trains its code cache. */
async function buildTools(work) {
  const tools = [];
  for (const tool of ['cocoon', ...TOOL_LINKS]) {
    const bundleFile = join(work, `${tool}.cjs`);
    const metafile = await bundle(join(ROOT, 'bins', tool, 'src/main.ts'), bundleFile, SEA_BUNDLE_OPTIONS);
    // the loader decodes ASCII as latin1 (cheaper); anything else still works, through UTF-8
    if (!isAscii(readFileSync(bundleFile))) say(`WARNING: ${tool} bundle is not ASCII; it starts a little slower`);
    tools.push({ tool, bundleFile, metafile, cacheFile: trainCache(tool, bundleFile, work) });
  }
  const total = (key) => tools.reduce((sum, t) => sum + (t[key] ? statSync(t[key]).size : 0), 0);
  say(`${tools.length} bundles: ${mib(total('bundleFile'))}, trained code caches: ${mib(total('cacheFile'))}`);
  return tools;
}

/**
 * Copies this Node binary to `target` and strips its symbols. A strip that fails (no
 * binutils) or whose result cannot run is undone: the unstripped copy still works.
 */
function copyNode(target) {
  copyFileSync(process.execPath, target);
  chmodSync(target, 0o755);
  const before = statSync(target).size;
  try {
    run('strip', ['--strip-all', target]);
    run(target, ['-e', '0']);
    say(`stripped node binary: ${mib(before)} -> ${mib(statSync(target).size)}`);
  } catch (err) {
    say(`strip skipped (${String(err.message ?? err).split('\n')[0]}); using the unstripped binary`);
    copyFileSync(process.execPath, target);
    chmodSync(target, 0o755);
  }
}

/** Injects the SEA blob into the copied Node binary with postject's API. */
async function inject(exe, blob) {
  const require = createRequire(import.meta.url);
  const { inject: postject } = require('postject');
  // LIEF (inside postject) warns about unnamed note sections of a stripped binary; the
  // result runs fine (the smoke test proves it), so only that notice is dropped.
  const warn = console.warn;
  console.warn = (...args) => {
    if (!/Can't find string offset for section name/.test(String(args[0]))) warn(...args);
  };
  try {
    await postject(exe, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: FUSE });
  } finally {
    console.warn = warn;
  }
}

/** Runs the packaged executable under every name; throws when one does not answer. */
function smokeTest(dir) {
  const expected = JSON.parse(run(process.execPath, ['-p', 'JSON.stringify(require("./package.json").version)'], { cwd: ROOT }));
  for (const name of ['cocoon', ...TOOL_LINKS]) {
    const out = run(join(dir, name), ['--version']).trim();
    if (out !== expected) throw new Error(`smoke test: "${name} --version" printed "${out}", expected "${expected}"`);
  }
  const probe = spawnSync(join(dir, 'cocoon'), ['--version'], { env: { ...process.env, COCOON_DEBUG_CODE_CACHE: '1' }, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (!String(probe.stderr).includes('code cache accepted')) say('WARNING: the executable does not use its code cache (start-up is slower)');
}

/**
 * Native addons beside the executable, where the bundle looks for them first:
 * cocoon_native.node (libs/common/src/native.ts) and node-pty's pty.node
 * (bins/cocoon-agent/src/server/pty-native.cjs, swapped in by scripts/bundle.mjs).
 */
function copyNativeAddons(stage) {
  copyFileSync(NATIVE, join(stage, 'cocoon_native.node'));
  const ptyPackage = createRequire(join(ROOT, 'bins/cocoon-agent/package.json')).resolve('node-pty/package.json');
  const pty = join(dirname(ptyPackage), 'build/Release/pty.node');
  if (!existsSync(pty)) throw new Error(`${pty} is missing: node-pty was not built (npm install-scripts approve node-pty; npm rebuild node-pty)`);
  copyFileSync(pty, join(stage, 'pty.node'));
}

/** Replaces `OUT` with `stage` (old folder renamed away first, then removed). */
function swapIn(stage) {
  const old = `${OUT}.old-${process.pid}`;
  if (existsSync(OUT)) renameSync(OUT, old);
  renameSync(stage, OUT);
  rmSync(old, { recursive: true, force: true });
}

function sizeOf(dir) {
  return readdirSync(dir).reduce((sum, name) => sum + lstatSync(join(dir, name)).size, 0);
}

async function main() {
  const started = performance.now();
  if (!existsSync(NATIVE)) throw new Error(`${NATIVE} is missing: run "npm run build" (node-gyp builds it)`);
  mkdirSync(DIST, { recursive: true });
  const work = mkdtempSync(join(DIST, '.work-'));
  const stage = mkdtempSync(join(DIST, '.stage-'));
  try {
    const tools = await buildTools(work);
    const blob = seaBlob(tools, work);
    const exe = join(stage, 'cocoon');
    copyNode(exe);
    await inject(exe, blob);
    for (const name of TOOL_LINKS) symlinkSync('cocoon', join(stage, name));
    copyNativeAddons(stage);
    const ptyDir = dirname(createRequire(join(ROOT, 'bins/cocoon-agent/package.json')).resolve('node-pty/package.json'));
    const count = writeNotices(join(stage, 'THIRD-PARTY-NOTICES.txt'), [...bundledPackages(ROOT, tools.map((t) => t.metafile)), ptyDir], process.execPath);
    say(`THIRD-PARTY-NOTICES.txt: ${count} components`);
    chmodSync(stage, 0o755);
    smokeTest(stage);
    swapIn(stage);
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(stage, { recursive: true, force: true });
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  say(`dist/bin/cocoon ${mib(statSync(join(OUT, 'cocoon')).size)}, dist/bin total ${mib(sizeOf(OUT))}, packaged in ${seconds} s`);
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (invokedDirectly) await main();
