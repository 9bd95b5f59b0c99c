/**
 * Builds the default guest as an OCI image layout tarball:
 * layer 0 = a busybox root filesystem, layer 1 = kernel, initramfs and the modules,
 * layer 2 = the guest agent (cocoon's packaged executable and the libraries it needs).
 * Everything happens under `workDir` (the caller removes it).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { agentLayerTree } from './agent-layer.ts';
import { ROOTFS_FILES, guestFile } from './assets.ts';
import { addBusybox, hostBusybox, type Busybox } from './busybox.ts';
import { writeCpio } from './cpio.ts';
import { fetchKernelDeb, resolveKernelPackage, unpackKernel, type UnpackedKernel } from './kernel.ts';
import { formatModulesDep, resolveGuestModules, type ModuleInfo } from './modules.ts';
import { buildOciLayout } from './oci-layout.ts';
import { writeTar } from './tar.ts';
import { Tree } from './tree.ts';

export interface BuildDefaultOptions {
  /** Scratch directory (created by the caller, removed by the caller). */
  workDir: string;
  /** Where the downloaded kernel package is kept between builds. */
  cacheDir: string;
  /** Use this kernel `.deb` instead of resolving and downloading one. */
  kernelDeb?: string;
  /** The busybox-static binary to ship (default `/bin/busybox`). */
  busyboxPath?: string;
  /** The packaged cocoon executable to bake in as the agent (default: found beside cocoon or in dist/bin). */
  agentExecutable?: string;
}

export interface BuiltGuest {
  /** The OCI layout tarball, inside `workDir`. */
  tarball: string;
  kernelVersion: string;
  kernelDeb: string;
  manifestDigest: string;
  /** Modules in load order. */
  modules: string[];
  initrdBytes: number;
}

/** The modules chosen for the guest: files and metadata to place under `/lib/modules/<ver>`. */
interface ModuleSet {
  version: string;
  files: Map<string, Buffer>;
  dep: string;
  order: string;
}

/** Builds the OCI layout tarball of the default guest. */
export async function buildDefaultGuest(opts: BuildDefaultOptions): Promise<BuiltGuest> {
  // First, so a missing `npm run build` fails before the kernel download.
  const agent = await agentLayerTree(opts.agentExecutable);
  const deb = opts.kernelDeb ?? (await fetchKernelDeb(await resolveKernelPackage(), opts.cacheDir));
  const kernel = await unpackKernel(deb, join(opts.workDir, 'kernel'));
  const modules = await collectModules(kernel);
  const busybox = await hostBusybox(opts.busyboxPath);
  const initrd = gzipSync(writeCpio((await initramfsTree(busybox, modules)).entries()), { level: 9 });
  const rootfs = await rootfsTree(busybox);
  const boot = bootTree(await readFile(kernel.vmlinuz), initrd, modules);
  const image = await buildOciLayout({
    refName: 'default',
    layers: [
      { tar: await writeTar(rootfs.entries()), comment: 'busybox root filesystem' },
      { tar: await writeTar(boot.entries()), comment: `kernel ${kernel.version}, initramfs, modules` },
      { tar: await writeTar(agent.entries()), comment: 'cocoon-agent and the shared libraries it needs' },
    ],
    annotations: { 'org.opencontainers.image.title': 'cocoon default guest', 'io.cocoon.kernel': kernel.version },
  });
  const tarball = join(opts.workDir, 'default.oci.tar');
  await writeFile(tarball, image.tarball, { mode: 0o600 });
  return {
    tarball,
    kernelVersion: kernel.version,
    kernelDeb: deb,
    manifestDigest: image.manifestDigest,
    modules: modules.order.split('\n').filter(Boolean),
    initrdBytes: initrd.length,
  };
}

async function collectModules(kernel: UnpackedKernel): Promise<ModuleSet> {
  const { graph, order } = await resolveGuestModules(kernel.modulesDir);
  const files = new Map<string, Buffer>();
  for (const mod of graph.values()) files.set(mod.path, await readFile(join(kernel.modulesDir, mod.path)));
  const pathOf = (name: string) => (graph.get(name) as ModuleInfo).path;
  return { version: kernel.version, files, dep: formatModulesDep(graph), order: `${order.map(pathOf).join('\n')}\n` };
}

function addModules(tree: Tree, modules: ModuleSet): void {
  const base = `lib/modules/${modules.version}`;
  for (const [path, data] of modules.files) tree.file(`${base}/${path}`, data);
  tree.file(`${base}/modules.dep`, modules.dep);
  // Read by /init: one module per line, dependencies first.
  tree.file(`${base}/modules.cocoon-order`, modules.order);
}

/** The initramfs: busybox, /init, the modules and the few nodes the kernel expects. */
export async function initramfsTree(busybox: Busybox, modules: ModuleSet): Promise<Tree> {
  const tree = new Tree();
  for (const dir of ['dev', 'proc', 'sys', 'run', 'tmp', 'newroot', 'etc']) tree.dir(dir);
  // The kernel opens /dev/console for /init before anything is mounted.
  tree.char('dev/console', 5, 1, 0o600);
  addBusybox(tree, busybox);
  tree.file('init', await guestFile('init'), 0o755);
  addModules(tree, modules);
  return tree;
}

/** Layer 0: a busybox system with init scripts, acpid and the agent hook. */
export async function rootfsTree(busybox: Busybox): Promise<Tree> {
  const tree = new Tree();
  for (const dir of ['dev', 'proc', 'sys', 'run', 'mnt', 'home', 'var/log', 'usr/local/bin', 'usr/local/sbin']) tree.dir(dir);
  tree.dir('tmp', 0o1777).dir('root', 0o700);
  addBusybox(tree, busybox);
  for (const [path, mode] of ROOTFS_FILES) tree.file(path, await guestFile(`rootfs/${path}`), mode);
  return tree;
}

/** Layer 1: `/boot/vmlinuz-<ver>`, `/boot/initrd.img-<ver>` and `/lib/modules/<ver>`. */
function bootTree(vmlinuz: Buffer, initrd: Buffer, modules: ModuleSet): Tree {
  const tree = new Tree();
  tree.file(`boot/vmlinuz-${modules.version}`, vmlinuz, 0o644);
  tree.file(`boot/initrd.img-${modules.version}`, initrd, 0o644);
  addModules(tree, modules);
  return tree;
}
