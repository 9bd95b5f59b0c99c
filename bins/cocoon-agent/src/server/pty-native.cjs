// Stand-in for node-pty's lib/utils.js inside cocoon's bundles (scripts/bundle.mjs swaps
// it in). node-pty finds `pty.node` relative to its own folder (`../build/Release`), which
// does not exist inside the single executable: the packaged layout ships `pty.node` beside
// the executable (like cocoon_native.node), so that is looked up first.
'use strict';
/* global require, process, exports */
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS by necessity (replaces a CommonJS file) */
const { existsSync, realpathSync } = require('node:fs');
const { dirname, join } = require('node:path');

function assign(target, ...sources) {
  for (const source of sources) for (const key of Object.keys(source)) target[key] = source[key];
  return target;
}

function folders() {
  const dirs = [];
  if (process.env.COCOON_PTY_ADDON) dirs.push(dirname(process.env.COCOON_PTY_ADDON));
  for (const p of [process.execPath, process.argv[1]]) {
    if (!p) continue;
    dirs.push(dirname(p));
    try {
      dirs.push(dirname(realpathSync(p)));
    } catch {
      // not a file
    }
  }
  try {
    // An unpackaged bundle run by node from the repo: the installed package's build.
    dirs.push(join(dirname(require.resolve('node-pty/package.json')), 'build', 'Release'));
  } catch {
    // a single executable's require only knows built-in modules
  }
  return dirs;
}

function loadNativeModule(name) {
  const file = process.env.COCOON_PTY_ADDON && name === 'pty' ? process.env.COCOON_PTY_ADDON : undefined;
  const tried = [];
  for (const path of file ? [file] : folders().map((d) => join(d, `${name}.node`))) {
    tried.push(path);
    if (!existsSync(path)) continue;
    const mod = { exports: {} };
    process.dlopen(mod, path);
    return { dir: dirname(path), module: mod.exports };
  }
  throw new Error(`${name}.node (node-pty) not found; looked in ${tried.join(', ')}; rebuild with "npm run build"`);
}

exports.assign = assign;
exports.loadNativeModule = loadNativeModule;
