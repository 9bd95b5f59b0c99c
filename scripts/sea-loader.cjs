// Main script of the single executable dist/bin/cocoon (Node SEA; CommonJS by necessity).
//
// The multi-call bundle and a V8 code cache for it are SEA assets. The cache is made at
// build time AFTER running the tools (scripts/train-code-cache.cjs), so it holds the
// compiled code of the functions start-up really runs, including those inside esbuild's
// lazily initialised modules, which Node's own `useCodeCache` (taken right after the
// first compile) leaves out. A missing or rejected cache (other V8 flags) only costs speed.
'use strict';
const { getAsset } = require('node:sea');
const { Script } = require('node:vm');

const WRAP_HEAD = '(function (exports, require, module, __filename, __dirname) {';
const WRAP_TAIL = '\n})';

function cachedData() {
  try {
    return new Uint8Array(getAsset('cocoon.cache'));
  } catch {
    return undefined;
  }
}

const script = new Script(WRAP_HEAD + getAsset('cocoon.cjs', 'utf8') + WRAP_TAIL, {
  filename: 'cocoon-multicall.cjs',
  cachedData: cachedData(),
});
if (process.env.COCOON_DEBUG_CODE_CACHE === '1') {
  process.stderr.write(`cocoon: code cache ${script.cachedDataRejected === false ? 'accepted' : 'not used'}\n`);
}
script.runInThisContext()(exports, require, module, __filename, __dirname);
