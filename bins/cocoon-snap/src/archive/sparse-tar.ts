/**
 * Sparse files in tar, the standard way: PAX format with GNU sparse 1.0 (what `tar --sparse
 * --format=pax` writes). The PAX header carries `GNU.sparse.major=1`, `GNU.sparse.minor=0`,
 * `GNU.sparse.name` (the real name) and `GNU.sparse.realsize`; the entry itself is named
 * `GNUSparseFile.0/<name>` and its body starts with the map in ASCII (`count\n`, then
 * `offset\n` `length\n` pairs, padded to 512 bytes), followed by the data segments end to end.
 * GNU tar, libarchive and Go's archive/tar restore such an entry as a bit-identical sparse
 * file. tar-stream writes the PAX records given as `header.pax` (so no hand-made headers
 * are needed); it does not interpret them when reading, which is done here.
 *
 * Also read: the Go cocoon's private keys (`COCOON.sparse.map` = JSON `[{"o":…,"l":…}]`,
 * `COCOON.sparse.size`), whose body is the data segments end to end.
 */
import { InvalidDataError } from '@cocoon/common/errors';
import type { Segment } from '@cocoon/common/snapshots/sparse';

const BLOCK = 512;

/** Whether `segments` are the whole of a `size`-byte file (no holes: a plain entry will do). */
export function isDense(segments: readonly Segment[], size: number): boolean {
  return size === 0 || (segments.length === 1 && segments[0]?.offset === 0 && segments[0].length === size);
}

/**
 * The map block of a GNU sparse 1.0 entry. Like GNU tar, a file that ends in a hole gets a
 * last, empty segment at its end, so the real size is also in the map.
 */
export function encodeSparseMap(segments: readonly Segment[], size: number): Buffer {
  const all = [...segments];
  const last = all[all.length - 1];
  if (!last || last.offset + last.length < size) all.push({ offset: size, length: 0 });
  const text = `${all.length}\n${all.map((s) => `${s.offset}\n${s.length}\n`).join('')}`;
  const out = Buffer.alloc(Math.ceil(text.length / BLOCK) * BLOCK);
  out.write(text, 'ascii');
  return out;
}

/** The PAX records and entry name of a GNU sparse 1.0 entry for `name`. */
export function sparseHeader(name: string, size: number, mapBytes: number, dataBytes: number): { name: string; size: number; pax: Record<string, string> } {
  return {
    name: `GNUSparseFile.0/${name}`,
    size: mapBytes + dataBytes,
    pax: { 'GNU.sparse.major': '1', 'GNU.sparse.minor': '0', 'GNU.sparse.name': name, 'GNU.sparse.realsize': String(size) },
  };
}

/** How an entry's body maps onto the file it restores. */
export interface EntryLayout {
  /** The file's name (the real one for sparse entries). */
  name: string;
  /** Apparent size of the restored file. */
  size: number;
  /** Data segments in body order; null when a GNU 1.0 map precedes the data in the body. */
  segments: Segment[] | null;
}

const MAX_SEGMENTS = 1_000_000;

/** Reads the PAX records of an entry: plain, GNU sparse 1.0, or the Go cocoon's sparse keys. */
export function entryLayout(header: { name: string; size?: number; pax?: Record<string, string> | null }): EntryLayout {
  const pax = header.pax ?? {};
  if (pax['GNU.sparse.major'] !== undefined || pax['GNU.sparse.name'] !== undefined) {
    if (pax['GNU.sparse.major'] !== '1' || pax['GNU.sparse.minor'] !== '0') {
      throw new InvalidDataError(`${header.name}: GNU sparse format ${pax['GNU.sparse.major']}.${pax['GNU.sparse.minor']} is not supported (write it with --sparse-version=1.0)`);
    }
    return { name: pax['GNU.sparse.name'] ?? header.name, size: count(pax['GNU.sparse.realsize'], 'GNU.sparse.realsize'), segments: null };
  }
  if (pax['COCOON.sparse.map'] !== undefined) {
    const size = count(pax['COCOON.sparse.size'], 'COCOON.sparse.size');
    let raw: unknown;
    try {
      raw = JSON.parse(pax['COCOON.sparse.map']);
    } catch {
      throw new InvalidDataError(`${header.name}: COCOON.sparse.map is not JSON`);
    }
    const list = raw === null ? [] : raw;
    if (!Array.isArray(list) || list.length > MAX_SEGMENTS) throw new InvalidDataError(`${header.name}: COCOON.sparse.map is not a list of segments`);
    const segments = list.map((s: unknown) => {
      const o = (s as { o?: unknown }).o;
      const l = (s as { l?: unknown }).l;
      if (typeof o !== 'number' || typeof l !== 'number' || !Number.isSafeInteger(o) || !Number.isSafeInteger(l) || o < 0 || l < 0 || o + l > size) throw new InvalidDataError(`${header.name}: a COCOON.sparse.map segment is out of range`);
      return { offset: o, length: l };
    });
    return { name: header.name, size, segments };
  }
  return { name: header.name, size: header.size ?? 0, segments: [{ offset: 0, length: header.size ?? 0 }] };
}

function count(value: string | undefined, key: string): number {
  const n = Number(value);
  if (value === undefined || !/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidDataError(`${key} is not a size: ${JSON.stringify(value)}`);
  return n;
}

/**
 * Incremental parser of a GNU sparse 1.0 map at the start of an entry body: feed chunks
 * until it returns the segments and the bytes after the (padded) map block.
 */
export class SparseMapReader {
  private buf = Buffer.alloc(0);

  constructor(private readonly size: number, private readonly label: string) {}

  push(chunk: Buffer): { segments: Segment[]; rest: Buffer } | null {
    this.buf = Buffer.concat([this.buf, chunk]);
    if (this.buf.length > 64 * 2 ** 20) throw new InvalidDataError(`${this.label}: GNU sparse map too large`);
    const lines = this.buf.toString('latin1').split('\n');
    if (lines.length < 2) return null;
    if (!/^\d+$/.test(lines[0] ?? '') || Number(lines[0]) > MAX_SEGMENTS) throw new InvalidDataError(`${this.label}: bad GNU sparse map`);
    const n = Number(lines[0]);
    if (lines.length < 2 + 2 * n) return null;
    const segments: Segment[] = [];
    let end = 0;
    for (let i = 0; i < n; i++) {
      const [o, l] = [lines[1 + 2 * i] ?? '', lines[2 + 2 * i] ?? ''];
      const [offset, length] = [Number(o), Number(l)];
      if (!/^\d+$/.test(o) || !/^\d+$/.test(l) || offset < end || offset + length > this.size) throw new InvalidDataError(`${this.label}: a GNU sparse map segment is out of order or range`);
      end = offset + length;
      if (length > 0) segments.push({ offset, length });
    }
    const mapBytes = lines.slice(0, 1 + 2 * n).join('\n').length + 1;
    const blockEnd = Math.ceil(mapBytes / BLOCK) * BLOCK;
    if (this.buf.length < blockEnd) return null;
    return { segments, rest: this.buf.subarray(blockEnd) };
  }
}
