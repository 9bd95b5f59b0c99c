/** Human sizes (`512M`, `10G`, `1.5GiB`) ↔ bytes, binary units as in the Go cocoon and Docker. */
import { UsageError } from './errors.ts';

const UNITS: Record<string, number> = { '': 1, b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };

/**
 * Parses a size into bytes: a plain byte count (`268435456`), Docker/Go-cocoon units
 * (`512M`, `10G`, `1.5GB`, all binary) or Kubernetes binary quantities (`256Mi`, `20Gi`,
 * `1.5GiB`). Throws a UsageError naming `flag` on anything else, below `min` or above `max`.
 */
export function parseSize(value: string, flag: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const m = /^(\d+(?:\.\d+)?)\s*(?:([kmgtp])(?:ib?|b)?|b)?$/i.exec(value.trim());
  if (!m) {
    throw new UsageError(`${flag}: invalid size "${value}" (a byte count, or a number with K, M, G, T or P, e.g. 512M, 10G, 256Mi)`);
  }
  const unit = m[2]?.toLowerCase() ?? '';
  const bytes = Math.floor(Number(m[1]) * (UNITS[unit] ?? 1));
  if (bytes < min) {
    const hint = unit === '' && m[0].toLowerCase().endsWith('b') === false ? ` (did you mean ${value}M?)` : '';
    throw new UsageError(`${flag}: ${value} is below the minimum of ${formatSize(min)}${hint}`);
  }
  if (!Number.isSafeInteger(bytes) || bytes > max) throw new UsageError(`${flag}: ${value} is above the maximum of ${formatSize(max)}`);
  return bytes;
}

/** Formats bytes the short way (`512M`, `10G`, `1.5G`). */
export function formatSize(bytes: number): string {
  for (const [suffix, factor] of [['P', 2 ** 50], ['T', 2 ** 40], ['G', 2 ** 30], ['M', 2 ** 20], ['K', 2 ** 10]] as const) {
    if (bytes >= factor) {
      const v = bytes / factor;
      return `${Number.isInteger(v) ? v : v.toFixed(1)}${suffix}`;
    }
  }
  return `${bytes}B`;
}

const SECONDS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/**
 * Parses a duration into seconds: `90`, `90s`, `15m`, `12h`, `7d`, `2w` (one unit; decimals
 * allowed). Throws a UsageError naming `flag` on anything else.
 */
export function parseDuration(value: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([smhdw]?)$/i.exec(value.trim());
  if (!m) throw new UsageError(`${flag}: invalid duration "${value}" (seconds, or a number with s, m, h, d or w, e.g. 90s, 15m, 7d)`);
  return Number(m[1]) * (SECONDS[(m[2] ?? '').toLowerCase()] ?? 1);
}
