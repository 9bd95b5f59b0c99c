/**
 * Names for completion (`cocoon __complete vm|image|snapshot`): read straight from the
 * indexes, leniently (a shell completion must never print an error into the prompt).
 */
import { readFileSync } from 'node:fs';
import type { Layout } from '@cocoon/common/layout';

/** The `name` (or `config.name`) of every record in the index file `file`. */
function namesIn(file: string, nameOf: (item: Record<string, unknown>) => unknown): string[] {
  try {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { items?: Record<string, Record<string, unknown>> };
    return Object.values(doc.items ?? {}).flatMap((item) => {
      const name = nameOf(item);
      return typeof name === 'string' ? [name] : [];
    });
  } catch {
    return [];
  }
}

/** Names of the VMs, images or snapshots of `layout`, sorted. */
export function completionNames(layout: Layout, kind: 'vm' | 'image' | 'snapshot'): string[] {
  const names =
    kind === 'vm'
      ? namesIn(layout.vms.index, (i) => (i.config as { name?: unknown } | undefined)?.name ?? i.name)
      : namesIn(kind === 'image' ? layout.images.index : layout.snapshots.index, (i) => i.name);
  return [...new Set(names)].sort();
}
