// Build step of scripts/package.mjs: compiles the multi-call bundle exactly as
// scripts/sea-loader.cjs will, runs a few side-effect-free commands of each tool in
// this process (so V8 compiles what start-up really executes), then writes the V8 code
// cache of the script. Run with a throw-away COCOON_ROOT_DIR/RUN_DIR/LOG_DIR and
// stdout/stderr ignored.
//
//   node scripts/train-code-cache.cjs BUNDLE.cjs OUT.cache
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const { Script } = require('node:vm');

// Keep in step with scripts/sea-loader.cjs: the cache only fits the same source text.
const WRAP_HEAD = '(function (exports, require, module, __filename, __dirname) {';
const WRAP_TAIL = '\n})';
const RUNS = [
  ['cocoon', ['version']],
  ['cocoon', ['--version']],
  ['cocoon', ['vm', 'list', '--format', 'json']],
  ['cocoon', ['--help']],
  ['cocoon-image', ['--help']],
  ['cocoon-net', ['--help']],
  ['cocoon-snap', ['--help']],
  ['cocoon-console', ['--help']],
  ['cocoon-gc', ['--help']],
  ['cocoon-agent', ['--help']],
];
const RUN_TIMEOUT_MS = 5000;

const [bundle, out] = process.argv.slice(2);
if (!bundle || !out) throw new Error('usage: train-code-cache.cjs BUNDLE.cjs OUT.cache');
const script = new Script(WRAP_HEAD + readFileSync(bundle, 'utf8') + WRAP_TAIL, { filename: 'cocoon-multicall.cjs' });

/** Every tool's runner sets process.exitCode when its command has finished. */
async function settled() {
  const start = Date.now();
  while (process.exitCode === undefined) {
    if (Date.now() - start > RUN_TIMEOUT_MS) throw new Error('a training run did not finish');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

async function main() {
  const argv0 = process.argv[0];
  for (const [tool, args] of RUNS) {
    process.env.COCOON_TOOL = tool;
    process.argv = [argv0, argv0, ...args];
    process.exitCode = undefined;
    script.runInThisContext()(exports, require, module, __filename, __dirname);
    await settled();
    if (process.env.TRAIN_VERBOSE === '1') process.stderr.write(`train-code-cache: ${tool} ${args.join(' ')} -> exit ${process.exitCode}\n`);
  }
  writeFileSync(out, script.createCachedData());
  // the last command's exit code is not this program's
  process.exitCode = 0;
}

main().catch((err) => {
  process.exitCode = undefined;
  process.stderr.write(`train-code-cache: ${err.stack ?? err}\n`);
  process.exitCode = 1;
});
