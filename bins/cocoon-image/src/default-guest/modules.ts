/**
 * Kernel module selection for the default guest. Debian's kernel package ships no
 * `modules.dep` (depmod writes it at install time), so the dependency graph is read from
 * each module's own `.modinfo depends=` (the data depmod uses), a `modules.dep` for the
 * chosen subset is written, and the load order (dependencies first) is computed here
 * rather than in the initramfs.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { InvalidDataError, NotFoundError } from '@cocoon/common/errors';
import { readModinfo } from './elf.ts';

/** The modules the default guest needs; built-in ones are skipped. */
export const GUEST_MODULES = [
  'virtio_mmio',
  'virtio_pci',
  'virtio_blk',
  'virtio_net',
  'virtio_console',
  'erofs',
  'overlay',
  'ext4',
  'vsock',
  'vmw_vsock_virtio_transport_common',
  'vmw_vsock_virtio_transport',
  'evdev',
  'button',
  // virtio-pmem: read-only layers mapped from the host's page cache (DAX), shared by every VM
  'virtio_pmem',
  'nd_pmem',
] as const;

/** One module: its path relative to `/lib/modules/<ver>` and its direct dependencies. */
export interface ModuleInfo {
  name: string;
  path: string;
  depends: string[];
}

/** Module names treat `-` and `_` alike; the kernel's canonical form uses `_`. */
export function moduleName(fileOrName: string): string {
  return fileOrName.replace(/^.*\//, '').replace(/\.ko(\.(xz|gz|zst))?$/, '').replaceAll('-', '_');
}

/** Parses `modules.dep` text (`kernel/a.ko: kernel/b.ko kernel/c.ko`) into a graph. */
export function parseModulesDep(text: string): Map<string, ModuleInfo> {
  const graph = new Map<string, ModuleInfo>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const path = line.slice(0, colon).trim();
    const depends = line.slice(colon + 1).trim().split(/\s+/).filter(Boolean).map(moduleName);
    graph.set(moduleName(path), { name: moduleName(path), path, depends });
  }
  return graph;
}

/** Writes `modules.dep` for a graph: each module with all its transitive dependencies. */
export function formatModulesDep(graph: ReadonlyMap<string, ModuleInfo>): string {
  const lines = [...graph.values()]
    .sort((a, b) => (a.path < b.path ? -1 : 1))
    .map((m) => {
      // modprobe loads the listed dependencies from last to first, so list them reversed.
      const deps = loadOrder([m.name], graph).filter((n) => n !== m.name).reverse();
      return `${m.path}:${deps.map((d) => ` ${graph.get(d)?.path}`).join('')}`;
    });
  return `${lines.join('\n')}\n`;
}

/**
 * Orders `wanted` and everything they depend on so each module comes after its
 * dependencies. Throws on a missing module or a dependency cycle.
 */
export function loadOrder(wanted: readonly string[], graph: ReadonlyMap<string, ModuleInfo>): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, chain: string[]): void => {
    const mark = state.get(name);
    if (mark === 'done') return;
    if (mark === 'visiting') throw new InvalidDataError(`kernel modules: dependency cycle ${[...chain, name].join(' -> ')}`);
    const mod = graph.get(name);
    if (!mod) throw new NotFoundError(`kernel module ${name} not found${chain.length ? ` (needed by ${chain.at(-1)})` : ''}`);
    state.set(name, 'visiting');
    for (const dep of mod.depends) visit(dep, [...chain, name]);
    state.set(name, 'done');
    order.push(name);
  };
  for (const name of wanted) visit(moduleName(name), []);
  return order;
}

/** Lists `kernel/**\/*.ko*` of an unpacked module tree as name → relative path. */
export async function indexModuleFiles(modulesDir: string): Promise<Map<string, string>> {
  const files = await readdir(join(modulesDir, 'kernel'), { recursive: true });
  const index = new Map<string, string>();
  for (const file of files.sort()) {
    if (/\.ko(\.(xz|gz|zst))?$/.test(file)) index.set(moduleName(file), relative(modulesDir, join(modulesDir, 'kernel', file)));
  }
  return index;
}

/** Names of the modules built into the kernel (`modules.builtin`). */
export async function builtinModules(modulesDir: string): Promise<Set<string>> {
  const text = await readFile(join(modulesDir, 'modules.builtin'), 'utf8').catch(() => '');
  return new Set(text.split('\n').filter(Boolean).map(moduleName));
}

/**
 * Builds the dependency graph of `wanted` (minus built-ins) from the module files of an
 * unpacked kernel, reading `.modinfo` only of the modules actually reached.
 */
export async function resolveGuestModules(modulesDir: string, wanted: readonly string[] = GUEST_MODULES): Promise<{ graph: Map<string, ModuleInfo>; order: string[]; builtin: string[] }> {
  const files = await indexModuleFiles(modulesDir);
  const builtin = await builtinModules(modulesDir);
  const graph = new Map<string, ModuleInfo>();
  const queue = wanted.map(moduleName).filter((n) => !builtin.has(n));
  while (queue.length > 0) {
    const name = queue.shift() as string;
    if (graph.has(name) || builtin.has(name)) continue;
    const path = files.get(name);
    if (!path) throw new NotFoundError(`kernel module ${name} is neither a module nor built into this kernel`);
    if (!path.endsWith('.ko')) throw new InvalidDataError(`kernel module ${path} is compressed; busybox insmod needs plain .ko files`);
    const info = readModinfo(await readFile(join(modulesDir, path)), path);
    const depends = (info.get('depends')?.[0] ?? '').split(',').filter(Boolean).map(moduleName);
    graph.set(name, { name, path, depends });
    queue.push(...depends);
  }
  const roots = wanted.map(moduleName).filter((n) => !builtin.has(n));
  return { graph, order: loadOrder(roots, graph), builtin: wanted.map(moduleName).filter((n) => builtin.has(n)) };
}
