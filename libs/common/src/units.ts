/** Human sizes (`512M`, `10G`, `1.5GiB`) ↔ bytes, binary units as in the Go cocoon and Docker. */
import { UsageError } from './errors.ts';

const UNITS: Record<string, number> = { '': 1, b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/**
 * Parses a size such as `512M`, `10G`, `1.5GiB` or `1048576` (bytes) into bytes.
 * Throws a UsageError naming `flag` on anything else or below `min`.
 */
export function parseSize(value: string, flag: string, min = 0): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(value.trim());
  const unit = m?.[2]?.toLowerCase() ?? '';
  if (!m || !(unit in UNITS)) {
    throw new UsageError(`${flag}: invalid size "${value}" (use a number with an optional K, M, G or T suffix, e.g. 512M or 10G)`);
  }
  const bytes = Math.floor(Number(m[1]) * (UNITS[unit] ?? 1));
  if (bytes < min) {
    const hint = unit === '' ? ` (did you mean ${value}M?)` : '';
    throw new UsageError(`${flag}: ${value} is below the minimum of ${formatSize(min)}${hint}`);
  }
  return bytes;
}

/** Formats bytes the short way (`512M`, `10G`, `1.5G`). */
export function formatSize(bytes: number): string {
  for (const [suffix, factor] of [['T', 2 ** 40], ['G', 2 ** 30], ['M', 2 ** 20], ['K', 2 ** 10]] as const) {
    if (bytes >= factor) {
      const v = bytes / factor;
      return `${Number.isInteger(v) ? v : v.toFixed(1)}${suffix}`;
    }
  }
  return `${bytes}B`;
}
