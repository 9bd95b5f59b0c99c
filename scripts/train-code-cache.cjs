// Build step of scripts/package.mjs: compiles one tool's bundle exactly as
// scripts/sea-loader.cjs will, runs a few side-effect-free commands of that tool in this
// process (so V8 compiles what start-up really executes, including the per-record code of
// `vm list` over a small VM index written here), then writes the V8 code cache of the
// script. Run with a throw-away COCOON_ROOT_DIR/RUN_DIR/LOG_DIR and stdout/stderr ignored.
//
//   node scripts/train-code-cache.cjs TOOL BUNDLE.cjs OUT.cache
'use strict';
const { randomBytes } = require('node:crypto');
const { mkdirSync, readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { Script } = require('node:vm');

// Keep in step with scripts/sea-loader.cjs: the cache only fits the same source text.
const WRAP_HEAD = '(function (exports, require, module, __filename, __dirname) {';
const WRAP_TAIL = '\n})';
/** Commands run per tool; every tool also answers `--version` and `--help`. */
const RUNS = {
  cocoon: [['version'], ['vm', 'list', '--format', 'json'], ['vm', 'list', '--format', 'table'], ['vm', 'list', '--format', 'json']],
  'cocoon-image': [['list', '--format', 'json']],
};
const COMMON_RUNS = [['--version'], ['--help']];
const RUN_TIMEOUT_MS = 5000;
const TRAIN_VMS = 40;

const [tool, bundle, out] = process.argv.slice(2);
if (!tool || !bundle || !out) throw new Error('usage: train-code-cache.cjs TOOL BUNDLE.cjs OUT.cache');
const script = new Script(WRAP_HEAD + readFileSync(bundle, 'utf8') + WRAP_TAIL, { filename: `${tool}.cjs` });

/**
 * A small VM index so `vm list` runs its per-record code (zod parse, live state) here.
 * Plain data on purpose (this script loads no project code): should the record schema
 * move on, `vm list` only exits non-zero during training and the cache misses that code.
 */
function writeVmIndex(root) {
  const hex = (n) => randomBytes(n).toString('hex');
  const states = ['created', 'running', 'stopped', 'error'];
  const items = {};
  for (let i = 0; i < TRAIN_VMS; i++) {
    const id = hex(16);
    const state = states[i % states.length];
    const at = new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString();
    const disk = (serial, ro) => ({ path: join(root, 'images', `${hex(8)}.erofs`), serial, read_only: ro, format: 'raw' });
    items[id] = {
      id, name: `train-${i}`, state, hypervisor: 'qemu', accel: 'tcg',
      image: { ref: 'default', id: hex(16), digest: `sha256:${hex(32)}` },
      cpu: 1, memory: 2 ** 30, storage: 2 ** 33, nics: i % 2,
      boot: { kernel: join(root, 'vmlinuz'), initrd: null, firmware: null, cmdline: 'console=ttyS0' },
      disks: [disk('cocoon-layer0', true), disk('cocoon-cow', false)],
      // a PID that is not a hypervisor of this VM: the live state check reads /proc and says stopped
      pid: state === 'running' ? process.pid : null,
      created_at: at, started_at: state === 'created' ? null : at, stopped_at: state === 'stopped' ? at : null,
      error: state === 'error' ? 'training' : null,
    };
  }
  mkdirSync(join(root, 'vms'), { recursive: true, mode: 0o700 });
  writeFileSync(join(root, 'vms', 'index.json'), `${JSON.stringify({ version: 1, items })}\n`, { mode: 0o600 });
}

/** Every tool's runner sets process.exitCode when its command has finished. */
async function settled() {
  const start = Date.now();
  while (process.exitCode === undefined) {
    if (Date.now() - start > RUN_TIMEOUT_MS) throw new Error('a training run did not finish');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

async function main() {
  if (process.env.COCOON_ROOT_DIR) writeVmIndex(process.env.COCOON_ROOT_DIR);
  const argv0 = process.argv[0];
  for (const args of [...(RUNS[tool] ?? []), ...COMMON_RUNS]) {
    process.argv = [argv0, argv0, ...args];
    process.exitCode = undefined;
    script.runInThisContext()(exports, require, module, __filename, __dirname);
    await settled();
    if (process.env.TRAIN_VERBOSE === '1') process.stderr.write(`train-code-cache: ${tool} ${args.join(' ')} -> exit ${process.exitCode}\n`);
  }
  writeFileSync(/** @type {string} checked at the top */ (out), script.createCachedData());
  // the last command's exit code is not this program's
  process.exitCode = 0;
}

main().catch((err) => {
  process.exitCode = undefined;
  process.stderr.write(`train-code-cache: ${err.stack ?? err}\n`);
  process.exitCode = 1;
});
