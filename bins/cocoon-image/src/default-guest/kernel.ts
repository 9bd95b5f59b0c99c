/**
 * The guest kernel: Debian's cloud kernel package, fetched once with `apt-get download`
 * into `<root>/cache/` and unpacked with `dpkg-deb -x`. Offline after the first build.
 */
import { mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { run } from '@cocoon/common/exec';
import { ExternalError, InvalidDataError, NotFoundError } from '@cocoon/common/errors';
import { log } from '@cocoon/common/log';

/** The metapackage whose dependency names the current versioned cloud kernel. */
export const KERNEL_METAPACKAGE = 'linux-image-cloud-amd64';

/** An unpacked kernel package. */
export interface UnpackedKernel {
  version: string;
  vmlinuz: string;
  /** `/lib/modules/<version>` inside the unpacked tree. */
  modulesDir: string;
  deb: string;
}

/** Parses `apt-cache depends` output for the versioned `linux-image-*` dependency. */
export function parseKernelDepends(text: string): string | null {
  const match = /^\s*Depends:\s*(linux-image-\d\S*)\s*$/m.exec(text);
  return match?.[1] ?? null;
}

/** The versioned kernel package the metapackage depends on (runs `apt-get update` once if apt knows nothing). */
export async function resolveKernelPackage(): Promise<string> {
  const query = async () => parseKernelDepends((await run('apt-cache', ['depends', KERNEL_METAPACKAGE]).catch(() => ({ stdout: '' }))).stdout);
  let pkg = await query();
  if (!pkg) {
    log().warn(`apt does not know ${KERNEL_METAPACKAGE}: running apt-get update`);
    await aptUpdate();
    pkg = await query();
  }
  if (!pkg) throw new NotFoundError(`no versioned kernel package found for ${KERNEL_METAPACKAGE} (apt-cache depends ${KERNEL_METAPACKAGE})`);
  return pkg;
}

/**
 * Returns the cached `.deb` of `pkg` under `cacheDir`, downloading it first when absent.
 * The download lands in a temp dir inside the cache and is renamed into place, so an
 * interrupted download never looks like a cached package.
 */
export async function fetchKernelDeb(pkg: string, cacheDir: string): Promise<string> {
  await mkdir(cacheDir, { recursive: true, mode: 0o755 });
  const cached = await findCached(pkg, cacheDir);
  if (cached) {
    log().info({ deb: cached }, 'kernel package from the cache');
    return cached;
  }
  const tmp = await mkdtemp(join(cacheDir, '.download-'));
  try {
    const download = () => run('apt-get', ['download', '-q', pkg], { cwd: tmp, timeoutMs: 600_000 });
    await download().catch(async (err: unknown) => {
      log().warn(`apt-get download ${pkg} failed (${(err as Error).message}): running apt-get update and retrying`);
      await aptUpdate();
      await download();
    });
    const debs = (await readdir(tmp)).filter((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
    if (debs.length !== 1 || !debs[0]) throw new ExternalError(`apt-get download ${pkg} produced no .deb`);
    const target = join(cacheDir, debs[0]);
    await rename(join(tmp, debs[0]), target);
    return target;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function findCached(pkg: string, cacheDir: string): Promise<string | null> {
  const names = (await readdir(cacheDir)).filter((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb')).sort();
  const last = names.at(-1);
  return last ? join(cacheDir, last) : null;
}

async function aptUpdate(): Promise<void> {
  await run('apt-get', ['update', '-q'], { timeoutMs: 600_000 });
}

/** Unpacks a kernel `.deb` into `dir` and finds its vmlinuz and module tree. */
export async function unpackKernel(deb: string, dir: string): Promise<UnpackedKernel> {
  await mkdir(dir, { recursive: true });
  await run('dpkg-deb', ['-x', deb, dir], { timeoutMs: 300_000 });
  const boot = await readdir(join(dir, 'boot')).catch(() => [] as string[]);
  const kernels = boot.filter((f) => f.startsWith('vmlinuz-'));
  if (kernels.length !== 1 || !kernels[0]) throw new InvalidDataError(`${basename(deb)}: expected one boot/vmlinuz-*, found ${kernels.length}`);
  const version = kernels[0].slice('vmlinuz-'.length);
  // Debian ships modules under /lib (bookworm) or /usr/lib (merged-/usr packages).
  for (const lib of ['lib', 'usr/lib']) {
    const modulesDir = join(dir, lib, 'modules', version);
    const found = await readdir(modulesDir).then(() => true, () => false);
    if (found) return { version, vmlinuz: join(dir, 'boot', kernels[0]), modulesDir, deb };
  }
  throw new InvalidDataError(`${basename(deb)}: no lib/modules/${version}`);
}
