/**
 * Kernel and initramfs of a layer: `boot/vmlinuz*` and `boot/initrd.img*`, following a
 * symlink only while it stays inside the layer. The chosen files are copied into the layer's
 * boot folder of the store under their entry names.
 */
import { copyFileSync, lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { posix } from 'node:path';
import { errnoCode } from '@cocoon/common/errors';
import { normalizeName } from './spool.ts';

export interface BootFiles {
  /** File names inside the boot folder. */
  kernel: string;
  initrd: string | null;
}

/** Finds the kernel/initrd in an extracted layer at `root` and copies them to `dest`. */
export function extractBoot(root: string, dest: string): BootFiles | null {
  let names: string[];
  try {
    if (!lstatSync(`${root}/boot`).isDirectory()) return null;
    names = readdirSync(`${root}/boot`);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null;
    throw err;
  }
  const resolved = new Map<string, string>();
  for (const name of names) {
    if (!/^(vmlinuz|initrd\.img)/.test(name)) continue;
    const real = resolveInside(root, `boot/${name}`);
    if (real) resolved.set(name, real);
  }
  const kernel = choose([...resolved.keys()].filter((n) => n.startsWith('vmlinuz')), 'vmlinuz', null);
  if (!kernel) return null;
  const version = kernel.slice('vmlinuz'.length);
  const initrd = choose([...resolved.keys()].filter((n) => n.startsWith('initrd.img')), 'initrd.img', `initrd.img${version}`);
  for (const name of [kernel, initrd]) {
    if (name) copyFileSync(resolved.get(name) as string, `${dest}/${name}`);
  }
  return { kernel, initrd };
}

/** Reads back what `extractBoot` stored for a layer (for a layer converted earlier). */
export async function readBoot(dir: string): Promise<BootFiles | null> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null;
    throw err;
  }
  const kernel = names.find((n) => n.startsWith('vmlinuz'));
  return kernel ? { kernel, initrd: names.find((n) => n.startsWith('initrd.img')) ?? null } : null;
}

/** The exact `plain` name, else the version-matching one, else the highest version. */
function choose(names: string[], plain: string, matching: string | null): string | null {
  if (names.includes(plain)) return plain;
  if (matching && names.includes(matching)) return matching;
  return names.sort((a, b) => b.localeCompare(a, 'en', { numeric: true }))[0] ?? null;
}

/** The path of the regular file `rel` names, following in-layer symlinks (≤ 8 hops). */
function resolveInside(root: string, rel: string): string | null {
  let current: string | null = rel;
  for (let hop = 0; hop < 8 && current !== null; hop++) {
    const path: string = `${root}/${current}`;
    const parts = current.split('/');
    for (let i = 1; i < parts.length; i++) {
      // NOTE: a symlinked parent could lead outside the layer: accept only real directories.
      if (!lstatSync(`${root}/${parts.slice(0, i).join('/')}`, { throwIfNoEntry: false })?.isDirectory()) return null;
    }
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (!st) return null;
    if (st.isFile()) return path;
    if (!st.isSymbolicLink()) return null;
    const target: string = readlinkSync(path);
    current = target.startsWith('/') ? normalizeName(target.slice(1)) : normalizeName(posix.join(posix.dirname(current), target));
  }
  return null;
}
