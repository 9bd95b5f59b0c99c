/** Building a layer's read-only EROFS disk from its extracted folder with `mkfs.erofs`. */
import { run } from '@cocoon/common/exec';
import { digestHex } from '@cocoon/common/schemas/common';

/**
 * `mkfs.erofs` options, and why:
 * - `--preserve-mtime`: keep every file's own mtime (bookworm's 1.5 otherwise may round to
 *   the build time); `-T` is not used because it stamps one time on every file.
 * - owners are kept (no `--all-root`, no `--force-uid`): the guest sees the image's owners.
 * - xattrs are kept (default tolerance): overlayfs needs `trusted.overlay.opaque`.
 * - `-U<uuid from the layer digest>`: the same layer gets the same filesystem UUID.
 * - no compression: the build is I/O-bound instead of CPU-bound on 2 cores, the guest reads
 *   without decompressing, and guest kernels without EROFS LZ4 support still mount it.
 */
export function erofsArgs(layerDigest: string, out: string, dir: string): string[] {
  const hex = digestHex(layerDigest);
  const uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
  return ['--quiet', '--preserve-mtime', `-U${uuid}`, out, dir];
}

/** Builds `out` from `dir`. Throws MissingDependencyError (erofs-utils) or ExternalError. */
export async function buildErofs(layerDigest: string, out: string, dir: string): Promise<void> {
  await run('mkfs.erofs', erofsArgs(layerDigest, out, dir));
}
