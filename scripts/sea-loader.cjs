// Main script of the single executable dist/bin/cocoon (Node SEA; CommonJS by necessity).
//
// Multi-call: the tool is chosen from the name the process was started under
// (`process.argv0` keeps a symlink's own name, `process.execPath` resolves it away), or
// from COCOON_TOOL for launchers that cannot set argv[0]. Each tool is its own esbuild
// bundle (`<tool>.cjs`) with its own V8 code cache (`<tool>.cache`), both SEA assets, so
// a start reads, decodes and deserialises only what that tool needs (measured: ~10 ms
// less CPU than one bundle of every tool behind lazy imports).
//
// The caches are made at build time AFTER running the tool (scripts/train-code-cache.cjs),
// so they hold the compiled code of the functions start-up really runs, which Node's own
// `useCodeCache` (taken right after the first compile) leaves out. A missing or rejected
// cache (other V8 flags) only costs speed. Keep in step with scripts/train-code-cache.cjs:
// a cache only fits the very same source text.
'use strict';
const { getRawAsset } = require('node:sea');
const { Script } = require('node:vm');
const { Buffer, isAscii } = require('node:buffer');
const { basename } = require('node:path');

/** The tool names, from the `tools.json` asset package.mjs writes (one source: the bins/ folders). */
const TOOLS = JSON.parse(Buffer.from(/** @type {ArrayBuffer} */ (getRawAsset('tools.json'))).toString('utf8'));
const WRAP_HEAD = '(function (exports, require, module, __filename, __dirname) {';
const WRAP_TAIL = '\n})';
const EXIT_USAGE = 2;

function chooseTool() {
  const override = process.env.COCOON_TOOL;
  // NOTE: removed so that a tool this process starts (`cocoon image …` runs
  // `cocoon-image`) is chosen by its own name, not by the inherited override.
  delete process.env.COCOON_TOOL;
  return override !== undefined && override !== '' ? override : basename(process.argv0);
}

/**
 * The bundle's source text. getRawAsset hands out the asset in place (no copy); the build
 * makes ASCII-only bundles, and an ASCII buffer decodes as latin1 with a plain copy into a
 * one-byte string, cheaper than the UTF-8 decoder (same text either way).
 */
function source(tool) {
  const raw = Buffer.from(/** @type {ArrayBuffer} */ (getRawAsset(`${tool}.cjs`)));
  return raw.toString(isAscii(raw) ? 'latin1' : 'utf8');
}

function cachedData(tool) {
  try {
    return new Uint8Array(/** @type {ArrayBuffer} */ (getRawAsset(`${tool}.cache`)));
  } catch {
    return undefined;
  }
}

const tool = chooseTool();
if (!TOOLS.includes(tool)) {
  process.stderr.write(
    `cocoon: unknown tool "${tool}" (started as "${process.argv0}"); ` +
      `run this executable as one of ${TOOLS.join(', ')} (a symlink) or set COCOON_TOOL\n`,
  );
  process.exitCode = EXIT_USAGE;
} else {
  const script = new Script(WRAP_HEAD + source(tool) + WRAP_TAIL, { filename: `${tool}.cjs`, cachedData: cachedData(tool) });
  if (process.env.COCOON_DEBUG_CODE_CACHE === '1') {
    process.stderr.write(`${tool}: code cache ${script.cachedDataRejected === false ? 'accepted' : 'not used'}\n`);
  }
  // The tool's main module runs its command line as it is evaluated.
  script.runInThisContext()(exports, require, module, __filename, __dirname);
}
