// Build step of scripts/package.mjs: compiles one tool's bundle exactly as
// scripts/sea-loader.cjs will, runs a few side-effect-free commands of that tool in this
// process (so V8 compiles what start-up really executes, including the per-record code of
// `vm list` over a small VM index written here and the `vm create` path over a small image
// index), then writes the V8 code cache of the script. Run with a throw-away COCOON_ROOT_DIR/RUN_DIR/LOG_DIR and stdout/stderr ignored.
//
//   node scripts/train-code-cache.cjs TOOL BUNDLE.cjs OUT.cache
'use strict';
const { spawn } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { mkdirSync, readFileSync, writeFileSync } = require('node:fs');
const { createServer } = require('node:net');
const { join } = require('node:path');
const { Script } = require('node:vm');

// Keep in step with scripts/sea-loader.cjs: the cache only fits the same source text.
const WRAP_HEAD = '(function (exports, require, module, __filename, __dirname) {';
const WRAP_TAIL = '\n})';
/** Commands run per tool; every tool also answers `--version` and `--help`. */
const RUNS = {
  cocoon: [
    ['version'], ['vm', 'list', '--format', 'json'], ['vm', 'list', '--format', 'table'], ['vm', 'list', '--format', 'json'],
    // the create path (image resolve, COW disk from its template, index writes), then inspect and rm
    ['vm', 'create', '--name', 'train-new', '--cpu', '1', '--memory', '128M', '--storage', '64M', '--accel', 'tcg', 'default'],
    ['vm', 'inspect', 'train-new'], ['vm', 'rm', 'train-new'],
    // the exec path (lookup, port claim, session) against a stand-in agent: see execTarget
    ['vm', 'exec', 'train-exec', '--', 'true'], ['vm', 'exec', 'train-exec', '--', 'true'],
  ],
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
function writeVmIndex(root, items = {}) {
  const hex = (n) => randomBytes(n).toString('hex');
  const states = ['created', 'running', 'stopped', 'error'];
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

/**
 * An image index with one OCI image named `default`, so `vm create` runs through (it only
 * records the layers' paths; nothing is booted). Plain data, like the VM index above.
 */
function writeImageIndex(root) {
  const hex = (n) => randomBytes(n).toString('hex');
  const layer = (erofs) => ({ digest: `sha256:${hex(32)}`, diff_id: null, media_type: 'application/vnd.oci.image.layer.v1.tar+gzip', size: 4096, ...(erofs ? { erofs } : {}) });
  const [base, boot, agent] = [layer(), layer('lz4hc'), layer('dax')];
  const layers = [base, boot, agent];
  const id = hex(16);
  const record = {
    id, name: 'default', kind: 'oci', digest: `sha256:${hex(32)}`, source: 'training', platform: 'linux/amd64', layers,
    boot: { layer: boot.digest, kernel: 'vmlinuz', initrd: 'initrd.img' }, config: null, size: 3 * 4096, guest_pmem: true,
    created_at: new Date(Date.UTC(2026, 0, 1)).toISOString(),
  };
  mkdirSync(join(root, 'images'), { recursive: true, mode: 0o700 });
  writeFileSync(join(root, 'images', 'index.json'), `${JSON.stringify({ version: 1, items: { [id]: record } })}\n`, { mode: 0o600 });
}

/**
 * A "running" VM for `vm exec` (v1 record shape, like writeVmIndex's): its hypervisor is a
 * sleeping Node process whose command line names the VM's QMP socket (all a liveness
 * check looks at), and its agent is a stand-in on port 0 of the pool that answers every
 * `exec` with `started` and `exit` 0. Returns the record and a cleanup.
 */
function execTarget(root, runDir) {
  const id = randomBytes(16).toString('hex');
  const pool = join(runDir, id, 'agent');
  mkdirSync(pool, { recursive: true, mode: 0o700 });
  const hypervisor = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)', join(runDir, id, 'api.sock')], { stdio: 'ignore' });
  const agent = createServer((socket) => {
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        const frame = line.startsWith('{') ? JSON.parse(line) : {};
        if (frame.type !== 'exec') continue;
        const s = frame.session;
        socket.write(`{"session":${s},"type":"started","pid":1,"binary":true,"ports":1}\n{"session":${s},"type":"exit","exit_code":0}\n`);
      }
    });
    socket.on('error', () => undefined);
  }).listen(join(pool, '0.sock'));
  const at = new Date(Date.UTC(2026, 0, 1)).toISOString();
  const record = {
    id, name: 'train-exec', state: 'running', hypervisor: 'qemu', accel: 'tcg',
    image: { ref: 'default', id: randomBytes(16).toString('hex'), digest: `sha256:${randomBytes(32).toString('hex')}` },
    cpu: 1, memory: 2 ** 30, storage: 2 ** 30, nics: 0,
    boot: { kernel: join(root, 'vmlinuz'), initrd: null, firmware: null, cmdline: 'console=ttyS0' },
    disks: [{ path: join(runDir, id, 'cow.raw'), serial: 'cocoon-cow', read_only: false, format: 'raw' }],
    pid: hypervisor.pid, created_at: at, started_at: at, stopped_at: null, error: null,
  };
  return { record, cleanup: () => (agent.close(), hypervisor.kill('SIGKILL')) };
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
  const root = process.env.COCOON_ROOT_DIR;
  const target = root && process.env.COCOON_RUN_DIR ? execTarget(root, process.env.COCOON_RUN_DIR) : null;
  try {
    if (root) {
      writeVmIndex(root, target ? { [target.record.id]: target.record } : {});
      writeImageIndex(root);
    }
    await runAll();
  } finally {
    target?.cleanup();
  }
}

async function runAll() {
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
