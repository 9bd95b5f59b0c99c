/** Types of release.mjs. */
export function release(out: string): { tarball: string; name: string };
