/**
 * One JSON index per module (images, vms, snapshots, networks): a map of records by ID.
 * Reads are lock-free (writers replace the file atomically); every read-modify-write
 * holds the module's kernel lock, so concurrent writers never lose an update.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { errnoCode, InvalidDataError } from '../errors.ts';
import { resolveRef } from '../refs.ts';
import { writeFileAtomic } from './atomic.ts';
import { withLock } from './lock.ts';

export interface JsonIndexOptions<R> {
  /** The index file (`<root>/<module>/index.json`). */
  file: string;
  /** The lock file guarding it. */
  lockFile: string;
  /** Schema of one record. */
  schema: z.ZodType<R>;
  /** What a record is called in messages ("VM", "image"). */
  kind: string;
  /** Lock wait before a BusyError (ms). */
  lockTimeoutMs?: number;
  /** The name a record is referred to by (default: its `name` key). */
  nameOf?: (record: R) => string | undefined;
  /** Version of the file this code writes (default 1). */
  version?: number;
  /** Turns one record of an older file version into the current shape. */
  upgrade?: (item: unknown, fromVersion: number) => unknown;
}

const AnyVersionSchema = z.object({ version: z.number().int().positive(), items: z.record(z.string(), z.unknown()) });

/**
 * zod compiles a fast parser (`new Function`) for an object schema on its first parse:
 * it pays back over many records, but for the few a short-lived command reads it costs
 * more than it saves (measured: ~20 ms of `vm run`). Small indexes are parsed without it.
 */
const JIT_FROM_RECORDS = 64;
function parseOptions(items: unknown): { jitless: boolean } {
  const n = typeof items === 'object' && items !== null ? Object.keys(items).length : 0;
  return { jitless: n < JIT_FROM_RECORDS };
}

export class JsonIndex<R extends { id: string }> {
  private readonly fileSchema: z.ZodType<{ version: number; items: Record<string, R> }>;
  private readonly version: number;

  constructor(readonly opts: JsonIndexOptions<R>) {
    this.version = opts.version ?? 1;
    this.fileSchema = z.object({ version: z.literal(this.version), items: z.record(z.string(), opts.schema) });
  }

  /** All records, read without the lock. */
  async load(): Promise<Map<string, R>> {
    let text: string;
    try {
      // NOTE: a synchronous read: one small file, and `vm list` starts ~2 ms sooner without
      // the fs/promises machinery (thread pool round trips, chunked reads).
      text = readFileSync(this.opts.file, 'utf8');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return new Map();
      throw err;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new InvalidDataError(`${this.opts.file}: not valid JSON (${(err as Error).message})`);
    }
    const upgraded = this.upgraded(json);
    const parsed = this.fileSchema.safeParse(upgraded, parseOptions((upgraded as { items?: unknown } | null)?.items));
    if (!parsed.success) {
      throw new InvalidDataError(`${this.opts.file}: ${z.prettifyError(parsed.error).split('\n').join('; ')}`);
    }
    return new Map(Object.entries(parsed.data.items));
  }

  /** An older file's records in the current shape (the next update writes them so). */
  private upgraded(json: unknown): unknown {
    const any = AnyVersionSchema.safeParse(json);
    if (!any.success || any.data.version === this.version) return json;
    const from = any.data.version;
    if (from > this.version) throw new InvalidDataError(`${this.opts.file}: written by a newer cocoon (version ${from}); upgrade cocoon`);
    const upgrade = this.opts.upgrade;
    if (!upgrade) return json;
    try {
      const items = Object.fromEntries(Object.entries(any.data.items).map(([id, item]) => [id, upgrade(item, from)]));
      return { version: this.version, items };
    } catch (err) {
      throw new InvalidDataError(`${this.opts.file}: a version ${from} record cannot be upgraded (${(err as Error).message.split('\n')[0]})`);
    }
  }

  async list(): Promise<R[]> {
    return [...(await this.load()).values()];
  }

  /** Finds a record by ID, then name, then unique ID prefix (≥ 3 characters). */
  async resolve(ref: string): Promise<R> {
    return resolveRef(await this.list(), ref, this.opts.kind, this.opts.nameOf);
  }

  /**
   * Read-modify-write under the lock. `fn` mutates the map; its result is returned.
   * The file is rewritten only when `fn` returns without throwing.
   */
  async update<T>(fn: (items: Map<string, R>) => T | Promise<T>): Promise<T> {
    return withLock(this.opts.lockFile, () => this.updateHeld(fn), { timeoutMs: this.opts.lockTimeoutMs, what: `the ${this.opts.kind} index` });
  }

  /**
   * `update` for a caller that already holds this index's lock (cocoon-gc holds every
   * index lock for a whole cycle; a second flock from the same process would wait on itself).
   */
  async updateHeld<T>(fn: (items: Map<string, R>) => T | Promise<T>): Promise<T> {
    const items = await this.load();
    const result = await fn(items);
    const doc = { version: this.version, items: Object.fromEntries(items) };
    // NOTE: parse before writing so an invalid record never reaches the disk.
    const checked = this.fileSchema.parse(doc, parseOptions(doc.items));
    await writeFileAtomic(this.opts.file, `${JSON.stringify(checked, null, 2)}\n`);
    return result;
  }
}
