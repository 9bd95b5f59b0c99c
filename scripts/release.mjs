#!/usr/bin/env node
// `npm run release` (after `npm run build`): the release tarball of dist/bin.
//
//   dist/release/cocoon-<version>-linux-<arch>.tar.gz
//     cocoon-<version>-linux-<arch>/
//       bin/          the single executable, its tool names (relative symlinks), native addons
//       doctor/       cocoon-doctor, check.sh
//       systemd/      cocoon-agent.service (the guest agent's unit, for images)
//       install.sh    installs under a prefix (default /usr/local), verifying SHA256SUMS first
//       SHA256SUMS    of every file above
//   dist/release/SHA256SUMS   of the tarball
//
// Reproducible for a given dist/bin: entries sorted, owned by root, dated SOURCE_DATE_EPOCH
// (or the last commit), gzip without a timestamp. Subprocesses get argument arrays.
// Usage: node scripts/release.mjs [--out DIR]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'dist', 'bin');
const MiB = 2 ** 20;
const say = (line) => process.stderr.write(`release: ${line}\n`);

function run(file, args, opts = {}) {
  return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** Regular files under `dir`, relative, sorted (symlinks are not summed: they name files that are). */
function files(dir, base = dir) {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      const st = lstatSync(path);
      if (st.isDirectory()) return files(path, base);
      return st.isFile() ? [relative(base, path)] : [];
    });
}

/** Copies dist/bin, the doctor, the agent's unit and install.sh into `stage`. */
function assemble(stage) {
  mkdirSync(join(stage, 'bin'), { recursive: true });
  for (const name of readdirSync(BIN).sort()) {
    const from = join(BIN, name);
    if (lstatSync(from).isSymbolicLink()) symlinkSync(readlinkSync(from), join(stage, 'bin', name));
    else copyFileSync(from, join(stage, 'bin', name));
  }
  chmodSync(join(stage, 'bin', 'cocoon'), 0o755);
  /** @type {Array<[string, string, number]>} */
  const extras = [
    ['doctor/cocoon-doctor', 'doctor/cocoon-doctor', 0o755],
    ['doctor/check.sh', 'doctor/check.sh', 0o755],
    // The doctor reads the host tools' packages beside itself in a release.
    ['libs/common/src/host-tools.json', 'doctor/host-tools.json', 0o644],
    ['bins/cocoon-agent/systemd/cocoon-agent.service', 'systemd/cocoon-agent.service', 0o644],
    ['scripts/install.sh', 'install.sh', 0o755],
  ];
  for (const [from, to, mode] of extras) {
    mkdirSync(dirname(join(stage, to)), { recursive: true });
    copyFileSync(join(ROOT, from), join(stage, to));
    chmodSync(join(stage, to), mode);
  }
  const sums = files(stage).map((f) => `${sha256(join(stage, f))}  ${f}\n`).join('');
  writeFileSync(join(stage, 'SHA256SUMS'), sums);
}

function sourceDate() {
  if (process.env.SOURCE_DATE_EPOCH) return process.env.SOURCE_DATE_EPOCH;
  try {
    return run('git', ['log', '-1', '--format=%ct'], { cwd: ROOT }).trim();
  } catch {
    return '0';
  }
}

export function release(out) {
  if (!existsSync(join(BIN, 'cocoon'))) throw new Error(`${BIN}/cocoon is missing: run "npm run build" first`);
  const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
  const arch = { x64: 'amd64', arm64: 'arm64' }[process.arch] ?? process.arch;
  const name = `cocoon-${version}-linux-${arch}`;
  mkdirSync(out, { recursive: true });
  const work = mkdtempSync(join(out, '.work-'));
  try {
    assemble(join(work, name));
    const tar = join(work, `${name}.tar`);
    run('tar', ['--create', '--file', tar, '--sort=name', '--owner=0', '--group=0', '--numeric-owner', `--mtime=@${sourceDate()}`, '--directory', work, name]);
    run('gzip', ['--no-name', '--force', tar]);
    const tarball = join(out, `${name}.tar.gz`);
    copyFileSync(`${tar}.gz`, tarball);
    writeFileSync(join(out, 'SHA256SUMS'), `${sha256(tarball)}  ${name}.tar.gz\n`);
    const exe = statSync(join(BIN, 'cocoon')).size;
    say(`${relative(process.cwd(), tarball)}: ${(statSync(tarball).size / MiB).toFixed(1)} MiB (executable ${(exe / MiB).toFixed(1)} MiB unpacked)`);
    return { tarball, name };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (invokedDirectly) {
  const i = process.argv.indexOf('--out');
  const out = i > 0 ? process.argv[i + 1] : undefined;
  release(resolve(out ?? join(ROOT, 'dist', 'release')));
}
