/**
 * Line framing of the cocoon-agent protocol, shared by the agent, the relay and the host
 * client: an incremental `\n` splitter that never holds more than one frame's worth of
 * bytes (8 MiB), and parse/encode helpers that run every frame through its zod schema.
 */
import type { z } from 'zod';
import { InvalidDataError } from '../errors.ts';
import { MAX_FRAME_BYTES } from '../schemas/agent.ts';

const NL = 0x0a;

/** A frame longer than the cap; the session ends with an `error` frame. */
export class FrameTooLargeError extends InvalidDataError {
  constructor(max: number) {
    super(`frame exceeds ${max} bytes`);
  }
}

/**
 * Splits a byte stream into lines. Bytes of an unfinished line are kept as the chunks
 * that arrived (no copying until the line ends) and counted, so an endless line fails as
 * soon as it passes `max` instead of growing a buffer without bound. After an oversized
 * line the decoder drops bytes up to the next `\n` and carries on, so a multiplexed stream
 * stays in step; the overflow is reported in place of the line.
 */
export class LineDecoder {
  private parts: Buffer[] = [];
  private pending = 0;
  private skipping = false;

  constructor(private readonly max = MAX_FRAME_BYTES) {}

  /** Feeds one chunk; returns the lines it finished (without `\n`), in order. */
  push(chunk: Buffer): Array<Buffer | FrameTooLargeError> {
    const out: Array<Buffer | FrameTooLargeError> = [];
    let start = 0;
    for (let nl = chunk.indexOf(NL); nl !== -1; nl = chunk.indexOf(NL, start)) {
      const tail = chunk.subarray(start, nl);
      if (this.skipping) this.skipping = false;
      else if (this.pending + tail.length > this.max) out.push(new FrameTooLargeError(this.max));
      else out.push(this.parts.length === 0 ? tail : Buffer.concat([...this.parts, tail]));
      this.parts = [];
      this.pending = 0;
      start = nl + 1;
    }
    if (start < chunk.length && !this.skipping) {
      const rest = chunk.subarray(start);
      this.pending += rest.length;
      this.parts.push(rest);
      if (this.pending > this.max) {
        out.push(new FrameTooLargeError(this.max));
        this.parts = [];
        this.pending = 0;
        this.skipping = true;
      }
    }
    return out;
  }

  /** Bytes of an unfinished line (a stream that ends here was cut mid-frame). */
  get buffered(): number {
    return this.pending;
  }
}

/** A parsed line: a known frame, or the type of one this side does not know. */
export type Decoded<T> = { frame: T; unknown?: undefined } | { frame?: undefined; unknown: string };

/**
 * Parses one line against `schema`. Types outside `known` come back as `unknown` (to be
 * ignored); invalid JSON or a known type with bad fields throws InvalidDataError.
 */
export function decodeFrame<S extends z.ZodType>(line: Buffer | string, schema: S, known: ReadonlySet<string>): Decoded<z.infer<S>> {
  let value: unknown;
  try {
    value = JSON.parse(typeof line === 'string' ? line : line.toString('utf8'));
  } catch {
    throw new InvalidDataError('frame is not valid JSON');
  }
  const type = typeof value === 'object' && value !== null && 'type' in value ? (value as { type: unknown }).type : undefined;
  if (typeof type !== 'string') throw new InvalidDataError('frame has no "type"');
  if (!known.has(type)) return { unknown: type };
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidDataError(`bad "${type}" frame: ${issue ? `${issue.path.join('.') || 'frame'}: ${issue.message}` : 'invalid'}`);
  }
  return { frame: parsed.data };
}

/** One frame as a line; `session` (multiplexed streams) goes first so it is cheap to spot. */
export function encodeFrame(frame: { type: string; session?: number; [key: string]: unknown }, session?: number): string {
  if (session === undefined) return `${JSON.stringify(frame)}\n`;
  const { session: _dropped, ...rest } = frame;
  return `${JSON.stringify({ session, ...rest })}\n`;
}
