/**
 * The host's busybox-static: its binary and the applet paths it installs itself as.
 * The dynamic `busybox` package cannot run in an initramfs, so it is refused.
 */
import { readFile } from 'node:fs/promises';
import { run } from '@cocoon/common/exec';
import { MissingDependencyError } from '@cocoon/common/errors';
import { isStaticElf } from './elf.ts';
import type { Tree } from './tree.ts';

export const BUSYBOX_PATH = '/bin/busybox';

export interface Busybox {
  binary: Buffer;
  /** Applet paths relative to / (`bin/sh`, `sbin/init`, `usr/bin/awk` …). */
  applets: string[];
}

/** Reads the host busybox and its applet list. */
export async function hostBusybox(path = BUSYBOX_PATH): Promise<Busybox> {
  const binary = await readFile(path).catch(() => {
    throw new MissingDependencyError(`${path} not found: install the Debian package busybox-static`);
  });
  if (!isStaticElf(binary, path)) {
    throw new MissingDependencyError(`${path} is dynamically linked: install the Debian package busybox-static`);
  }
  const { stdout } = await run(path, ['--list-full']);
  const applets = stdout
    .split('\n')
    .map((l) => l.trim().replace(/^\/+/, ''))
    .filter((l) => l !== '' && l !== 'bin/busybox' && !l.split('/').includes('..'))
    .sort();
  return { binary, applets };
}

/** Adds `/bin/busybox` and a symlink per applet to a tree. */
export function addBusybox(tree: Tree, busybox: Busybox): void {
  tree.file('bin/busybox', busybox.binary, 0o755);
  for (const applet of busybox.applets) {
    if (!tree.has(applet)) tree.symlink(applet, '/bin/busybox');
  }
}
