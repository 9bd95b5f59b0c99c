/**
 * The guest-agent layer of the default guest: cocoon's packaged single executable (the
 * multi-call `dist/bin/cocoon`, run as `cocoon-agent`), its two native addons beside it,
 * the shared libraries it links (found with `ldd`, the dynamic loader included) so it
 * runs on the busybox root filesystem, and the systemd unit for systemd-based images.
 * The busybox init starts it from /etc/init.d/S50agent.
 *
 * Guest layout:
 *   /usr/local/lib/cocoon/cocoon                the executable
 *   /usr/local/lib/cocoon/{cocoon_native,pty}.node
 *   /usr/local/bin/cocoon-agent -> ../lib/cocoon/cocoon   (the tool is picked from argv0)
 *   /usr/lib/systemd/system/cocoon-agent.service
 */
import { createHash } from 'node:crypto';
import { accessSync, constants, createReadStream, existsSync, realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MissingDependencyError } from '@cocoon/common/errors';
import { run } from '@cocoon/common/exec';
import { selfDirs } from '@cocoon/common/tools';
import { Tree } from './tree.ts';

const GUEST_DIR = 'usr/local/lib/cocoon';
const ADDONS = ['cocoon_native.node', 'pty.node'];
const UNIT = 'cocoon-agent.service';

/** The packaged executable to bake in: beside the running one, else the repo's dist/bin. */
export function locateAgentExecutable(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const dirs = [...selfDirs(), join(here, '../../../../dist/bin')];
  for (const dir of dirs) {
    const exe = join(dir, 'cocoon-agent');
    try {
      accessSync(exe, constants.X_OK);
    } catch {
      continue;
    }
    const real = realpathSync(exe);
    if (ADDONS.every((a) => existsSync(join(dirname(real), a)))) return real;
  }
  throw new MissingDependencyError(
    'the packaged cocoon-agent (dist/bin/cocoon with cocoon_native.node and pty.node beside it) was not found: run "npm run build" first',
  );
}

/**
 * `sha256:<hex>` over the agent executable and its addons: what the agent layer would carry.
 * `build-default` records it in the image's source and rebuilds when it changed, so a guest
 * never runs an agent older than the cocoon that talks to it.
 */
export async function agentDigest(exe = locateAgentExecutable()): Promise<string> {
  const hash = createHash('sha256');
  for (const file of [exe, ...ADDONS.map((a) => join(dirname(exe), a))]) {
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  }
  return `sha256:${hash.digest('hex')}`;
}

/** Parses `ldd` output: the absolute paths of every library and of the dynamic loader. */
export function parseLdd(text: string): string[] {
  const found = new Set<string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (/not found/.test(line)) throw new MissingDependencyError(`a shared library of the agent is missing on this host: ${line}`);
    const arrow = /=>\s+(\/\S+)\s+\(/.exec(line);
    const bare = /^(\/\S+)\s+\(/.exec(line);
    const path = arrow?.[1] ?? bare?.[1];
    if (path) found.add(path);
  }
  return [...found].sort();
}

/** Libraries needed by the executable and its addons (union of their `ldd`). */
async function sharedLibraries(files: string[]): Promise<string[]> {
  const all = new Set<string>();
  for (const file of files) {
    const { stdout } = await run('ldd', [file]).catch(() => {
      throw new MissingDependencyError('ldd failed: install the Debian package libc-bin');
    });
    for (const lib of parseLdd(stdout)) all.add(lib);
  }
  return [...all].sort();
}

/** Reads the systemd unit shipped in bins/cocoon-agent/systemd (inlined when bundled). */
async function unitFile(): Promise<string> {
  try {
    // A template literal so esbuild inlines the folder's files (one: the unit) as text.
    const mod = (await import(`../../../cocoon-agent/systemd/${UNIT}`, { with: { type: 'text' } })) as { default: unknown };
    if (typeof mod.default === 'string') return mod.default;
  } catch {
    // Not bundled: read it from the source tree.
  }
  return readFile(new URL(`../../../cocoon-agent/systemd/${UNIT}`, import.meta.url), 'utf8');
}

/** Builds the agent layer from the executable at `exe` (default: locateAgentExecutable()). */
export async function agentLayerTree(exe = locateAgentExecutable()): Promise<Tree> {
  const dir = dirname(exe);
  const tree = new Tree();
  tree.file(`${GUEST_DIR}/cocoon`, await readFile(exe), 0o755);
  for (const addon of ADDONS) tree.file(`${GUEST_DIR}/${addon}`, await readFile(join(dir, addon)), 0o755);
  tree.symlink('usr/local/bin/cocoon-agent', '../lib/cocoon/cocoon');
  // Stored as regular files at the paths ldd names (the loader's own path included), so
  // the guest needs no ld.so.cache and no symlinks from the host's merged /usr.
  for (const lib of await sharedLibraries([exe, ...ADDONS.map((a) => join(dir, a))])) {
    tree.file(lib, await readFile(lib), 0o755);
  }
  tree.file(`usr/lib/systemd/system/${UNIT}`, await unitFile(), 0o644);
  return tree;
}
