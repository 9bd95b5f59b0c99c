/**
 * The guest's own files (`files/init`, `files/rootfs/...`) are real files in the repo.
 * esbuild inlines them into the bundle through the `with { type: 'text' }` dynamic
 * import; when running from source (tsx, tests) Node refuses that attribute, so they are
 * read from disk next to this module instead.
 */
import { readFile } from 'node:fs/promises';

/** Files of the root filesystem layer with their modes (paths under `files/rootfs`). */
export const ROOTFS_FILES: ReadonlyArray<readonly [path: string, mode: number]> = [
  ['etc/acpi/PWRF/00000080', 0o755],
  ['etc/acpid.conf', 0o644],
  ['etc/group', 0o644],
  ['etc/hostname', 0o644],
  ['etc/hosts', 0o644],
  ['etc/init.d/S40network', 0o755],
  ['etc/init.d/S50agent', 0o755],
  ['etc/init.d/rcK', 0o755],
  ['etc/init.d/rcS', 0o755],
  ['etc/inittab', 0o644],
  // A machine id like a cloud image bakes in: every VM of the image shares it until a clone regenerates it.
  ['etc/machine-id', 0o444],
  ['etc/passwd', 0o644],
  ['etc/profile', 0o644],
  ['etc/shadow', 0o600],
  ['etc/udhcpc.script', 0o755],
];

/** Reads `files/<name>` (e.g. `init`, `rootfs/etc/inittab`) as text. */
export async function guestFile(name: string): Promise<string> {
  try {
    const mod = (await import(`./files/${name}`, { with: { type: 'text' } })) as { default: unknown };
    if (typeof mod.default === 'string') return mod.default;
  } catch {
    // Not bundled: fall through to the file on disk.
  }
  return readFile(new URL(`./files/${name}`, import.meta.url), 'utf8');
}
