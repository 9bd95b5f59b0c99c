/** Import sources: files (concatenated in order, for split images) or `-` (stdin), peeked. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { errnoCode, InvalidDataError, NotFoundError, UsageError } from '@cocoon/common/errors';

/** Checks the sources exist and are regular files (or `-` once) before anything is written. */
export async function checkSources(sources: readonly string[]): Promise<void> {
  if (sources.length === 0) throw new UsageError('import: give at least one FILE or "-" for stdin');
  if (sources.includes('-') && sources.length > 1) throw new UsageError('import: "-" (stdin) cannot be combined with files');
  let total = 0;
  for (const src of sources) {
    if (src === '-') return;
    try {
      const st = await stat(src);
      if (!st.isFile()) throw new InvalidDataError(`${src} is not a regular file`);
      total += st.size;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw new NotFoundError(`${src}: no such file`);
      throw err;
    }
  }
  if (total === 0) throw new InvalidDataError(`${sources.join(' + ')} is empty (0 bytes), not an image (an OCI layout or docker-save tarball, or a qcow2 or raw disk)`);
}

/** One stream of all `sources` in order (stdin for `-`). */
export function openSources(sources: readonly string[], stdin: NodeJS.ReadableStream): Readable {
  if (sources.length === 1 && sources[0] === '-') return Readable.from(stdin, { objectMode: false });
  async function* concat(): AsyncGenerator<Buffer> {
    for (const src of sources) {
      for await (const chunk of createReadStream(src)) yield chunk as Buffer;
    }
  }
  return Readable.from(concat(), { objectMode: false });
}

/**
 * Reads at least `n` bytes (fewer at end of stream) without losing them: returns them and a
 * stream that yields the whole input again from its first byte.
 */
export async function peek(input: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const iterator = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const chunks: Buffer[] = [];
  let size = 0;
  let done = false;
  while (size < n) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
    chunks.push(chunk);
    size += chunk.length;
  }
  async function* replay(): AsyncGenerator<Buffer> {
    yield* chunks;
    if (done) return;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }
  return { head: Buffer.concat(chunks), stream: Readable.from(replay(), { objectMode: false }) };
}
