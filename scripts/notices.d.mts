/** Types of notices.mjs. */
import type { Metafile } from 'esbuild';
export function bundledPackages(root: string, metafiles: Metafile[]): string[];
export function writeNotices(out: string, packageDirs: string[], execPath: string): number;
