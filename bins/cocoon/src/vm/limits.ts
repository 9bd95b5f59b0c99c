/**
 * Host limits on what `vm create/run` asks for, checked while parsing so a size the host
 * cannot honour is a usage error (exit 2) and nothing is made: guest memory up to the host's
 * memory, a writable disk up to the size of the filesystem that will hold it. `--force`
 * skips both (overcommitting memory, or a sparse disk bigger than its filesystem).
 */
import { statfsSync } from 'node:fs';
import { totalmem } from 'node:os';
import { dirname } from 'node:path';
import { errnoCode, UsageError } from '@cocoon/common/errors';
import { formatSize } from '@cocoon/common/units';

/** Facts the limits depend on (injectable for tests). */
export interface HostFacts {
  memoryBytes(): number;
  /** Total bytes of the filesystem `dir` is (or would be) on. */
  filesystemBytes(dir: string): number;
}

export const hostFacts: HostFacts = {
  memoryBytes: () => totalmem(),
  filesystemBytes: (dir) => {
    // The run dir may not exist yet: ask the nearest folder that does.
    for (let d = dir; ; d = dirname(d)) {
      try {
        const st = statfsSync(d);
        return st.blocks * st.bsize;
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT' || d === dirname(d)) throw err;
      }
    }
  },
};

/** Throws a UsageError when `memory` or `storage` is more than this host can give. */
export function checkHostLimits(req: { memory: number; storage: number; runDir: string; force: boolean }, host: HostFacts = hostFacts): void {
  if (req.force) return;
  const memory = host.memoryBytes();
  if (req.memory > memory) {
    throw new UsageError(`--memory: ${formatSize(req.memory)} is more than this host's ${formatSize(memory)} of memory (--force to overcommit)`);
  }
  const fs = host.filesystemBytes(req.runDir);
  if (req.storage > fs) {
    throw new UsageError(`--storage: ${formatSize(req.storage)} is more than the ${formatSize(fs)} filesystem of ${req.runDir} can hold (--force for a sparse disk bigger than it)`);
  }
}

/** A disk the filesystem refused as too big (EFBIG, even with --force) as a usage error. */
export function diskTooBig(err: unknown, bytes: number): unknown {
  if (errnoCode(err) !== 'EFBIG') return err;
  return new UsageError(`--storage: ${formatSize(bytes)} is larger than the filesystem's largest file`);
}
