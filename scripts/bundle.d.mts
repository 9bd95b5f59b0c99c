/** Types of bundle.mjs (esbuild settings shared by the per-bin and multi-call bundles). */
import type { BuildOptions, Metafile, Plugin } from 'esbuild';
export function hostOnlyStubs(suffixes: readonly string[]): Plugin;
export function bundle(entry: string, outfile: string, extra?: BuildOptions): Promise<Metafile>;
/** The git revision and build time baked into the bundles. */
export function buildInfo(): { revision: string; time: string };
