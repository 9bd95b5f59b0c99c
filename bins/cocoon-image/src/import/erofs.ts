/** Building a layer's read-only EROFS disk from its extracted folder with `mkfs.erofs`. */
import { truncate, stat } from 'node:fs/promises';
import { run } from '@cocoon/common/exec';
import { layerUuid } from '@cocoon/common/images/store';
import type { ErofsLayout } from '@cocoon/common/schemas/image';

/**
 * A DAX layer's file is padded (sparse) to this: a virtio-pmem region needs 2 MiB steps, and
 * QEMU places a DIMM added live (a grown clone) right after the pmem devices, where Linux
 * takes it only on a memory-block boundary (128 MiB on x86_64): with smaller padding the
 * guest never onlines the added memory.
 */
export const DAX_ALIGN = 128 * 2 ** 20;
/** LZ4HC physical cluster: 64 KiB compresses the agent's 83 MiB executable to 39 MiB (16 KiB: 42 MiB, 256 KiB: 38 MiB but 4x the work per random read). */
const LZ4_PCLUSTER = 65536;

/**
 * `mkfs.erofs` options, and why:
 * - `--preserve-mtime`: keep every file's own mtime (bookworm's 1.5 otherwise may round to
 *   the build time); `-T` is not used because it stamps one time on every file.
 * - owners are kept (no `--all-root`, no `--force-uid`): the guest sees the image's owners.
 * - xattrs are kept (default tolerance): overlayfs needs `trusted.overlay.opaque`.
 * - `-U<uuid from the layer digest>`: the same layer gets the same filesystem UUID.
 * - no compression by default: the build is I/O-bound instead of CPU-bound on 2 cores, the
 *   guest reads without decompressing, and guest kernels without EROFS LZ4 support still
 *   mount it. A layer asks for another layout (`io.cocoon.erofs`):
 *   - `dax`: `-E noinline_data` (EROFS maps only files without inline tails with DAX), and
 *     the file is padded (sparse) to 128 MiB afterwards (see `DAX_ALIGN`);
 *   - `lz4hc`: `-z lz4hc,12` with 64 KiB physical clusters (the guest decompresses).
 */
export function erofsArgs(layerDigest: string, out: string, dir: string, layout: ErofsLayout = 'plain'): string[] {
  const extra = layout === 'dax' ? ['-Enoinline_data'] : layout === 'lz4hc' ? ['-zlz4hc,12', `-C${LZ4_PCLUSTER}`] : [];
  return ['--quiet', '--preserve-mtime', `-U${layerUuid(layerDigest)}`, ...extra, out, dir];
}

/** Builds `out` from `dir`. Throws MissingDependencyError (erofs-utils) or ExternalError. */
export async function buildErofs(layerDigest: string, out: string, dir: string, layout: ErofsLayout = 'plain'): Promise<void> {
  await run('mkfs.erofs', erofsArgs(layerDigest, out, dir, layout));
  if (layout === 'dax') {
    // NOTE: sparse padding; EROFS ignores what follows its last block.
    const { size } = await stat(out);
    await truncate(out, Math.ceil(size / DAX_ALIGN) * DAX_ALIGN);
  }
}
