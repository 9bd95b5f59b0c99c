/** Whether a per-VM dir belongs to this cocoon root (another root may share the run or log dir). */
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { Layout } from '@cocoon/common/layout';
import { OWNER_FILE } from '@cocoon/common/vms';

/**
 * A dir marked with this root (`cocoon-root`, written at create) is ours; an unmarked one is
 * ours only when it lies inside this root (the default run dir). Anything else is left alone.
 */
export async function ownedByRoot(dir: string, layout: Layout): Promise<boolean> {
  const root = resolve(layout.root);
  try {
    return (await readFile(join(dir, OWNER_FILE), 'utf8')).trim() === root;
  } catch {
    return `${resolve(dirname(dir))}${sep}`.startsWith(`${root}${sep}`);
  }
}
