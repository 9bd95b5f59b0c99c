#!/usr/bin/env node
// Bundles one bin (bins/<tool>/src/main.ts) into bins/<tool>/dist/<tool>.cjs with esbuild,
// and exports the same settings for the single executable's per-tool bundles (scripts/package.mjs).
// CommonJS output because Node's single-executable applications run a CommonJS main;
// `import.meta.url` is mapped to the bundle's own file URL (in a single executable,
// `__filename` is the executable itself, so the URL points beside it).
import { execFileSync } from 'node:child_process';
import { build } from 'esbuild';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * node-pty loads `pty.node` relative to its own files, which a bundle (and the single
 * executable) does not have: its lib/utils.js is replaced by cocoon's stand-in, which looks
 * beside the executable first (the packaged layout ships pty.node there).
 */
const PTY_NATIVE_SHIM = resolve(dirname(fileURLToPath(import.meta.url)), '../bins/cocoon-agent/src/server/pty-native.cjs');
const ptyNativePlugin = {
  name: 'cocoon-node-pty-native',
  setup(b) {
    b.onLoad({ filter: /[\\/]node-pty[\\/]lib[\\/]utils\.js$/ }, async () => {
      const { readFile } = await import('node:fs/promises');
      return { contents: await readFile(PTY_NATIVE_SHIM, 'utf8'), loader: 'js', resolveDir: dirname(PTY_NATIVE_SHIM) };
    });
  },
};

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
let info;

/**
 * What `cocoon version` prints besides the version: the git revision the bundle is built
 * from (`-dirty` when tracked files differ from it) and the build time (SOURCE_DATE_EPOCH
 * when set, for reproducible builds). Computed once per build process.
 */
export function buildInfo() {
  if (info) return info;
  const git = (...args) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  let revision = 'unknown';
  try {
    revision = git('rev-parse', '--short=12', 'HEAD');
    if (git('status', '--porcelain', '--untracked-files=no') !== '') revision += '-dirty';
  } catch {
    // not a git checkout (a source tarball): the revision stays unknown
  }
  const epoch = Number(process.env.SOURCE_DATE_EPOCH);
  const time = (Number.isFinite(epoch) && epoch > 0 ? new Date(epoch * 1000) : new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  info = { revision, time };
  return info;
}

/**
 * For the guest agent's own executable: modules of the host tools that its bundle reaches
 * only through code the agent never runs (the CLI runner's config loader, with classic
 * zod behind it) are replaced by a stub that says so. Keeps ~0.5 MB of source, parsed at
 * every start and held in every guest's memory, out of the agent.
 */
export function hostOnlyStubs(suffixes) {
  const filter = new RegExp(`(${suffixes.map((s) => s.replaceAll('.', '\\.').replaceAll('/', '[\\\\/]')).join('|')})$`);
  return {
    name: 'cocoon-host-only-stubs',
    setup(b) {
      b.onLoad({ filter }, (args) => ({
        contents: `throw new Error('Assertion failed: ${args.path.split(/[\\/]/).slice(-2).join('/')} is host-only and not in this executable');`,
        loader: 'js',
      }));
    },
  };
}

/**
 * Bundles `entry` and everything it imports into one CommonJS file `outfile`.
 * Dynamic `import()`s of bundled files become lazily initialised modules.
 * Returns esbuild's metafile (inputs and outputs, for size reports). `extra` adds esbuild
 * options (the single executable's bundles drop whitespace and comments).
 */
export async function bundle(entry, outfile, extra = {}) {
  const result = await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: false,
    minifySyntax: true,
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
    ...extra,
    plugins: [ptyNativePlugin, ...(extra.plugins ?? [])],
    define: {
      'import.meta.url': '__cocoon_import_meta_url',
      __COCOON_GIT_REVISION__: JSON.stringify(buildInfo().revision),
      __COCOON_BUILD_TIME__: JSON.stringify(buildInfo().time),
      ...extra.define,
    },
    banner: { js: "const __cocoon_import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
  });
  return result.metafile;
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (invokedDirectly) {
  const dir = resolve(process.argv[2] ?? process.cwd());
  const tool = basename(dir);
  await bundle(resolve(dir, 'src/main.ts'), resolve(dir, 'dist', `${tool}.cjs`));
}
