/**
 * Framing of the cocoon-agent protocol, shared by the agent and the host client.
 *
 * A stream carries JSON lines (`{…}\n`, the Go agent's format) and, once a session
 * negotiated them, binary data frames:
 *
 *   kind u8 (1 stdin, 2 stdout, 3 stderr) | session u32 BE (0 off a multiplexed stream)
 *   | length u32 BE (at most MAX_DATA_BYTES) | payload
 *
 * A reader tells them apart by the first byte: `{` opens a JSON line, 1–3 a data frame,
 * and `\n` or a space between frames is skipped (a new client of a serial port sends a
 * run of spaces to flush a frame its predecessor died in the middle of: see
 * `hypervisor/qemu/agent-pool.ts`). Anything else is garbage up to the next `\n`. A data
 * frame is handed out whole (at most MAX_DATA_BYTES), even when it arrived as 16 serial
 * reads of 4 KiB: one 64 KiB write to a child's stdin costs a guest under emulation far
 * less than sixteen small ones (measured: 2× the throughput). A JSON line never grows
 * past MAX_FRAME_BYTES.
 */
import { InvalidDataError } from '../errors.ts';
import { MAX_FRAME_BYTES } from '../schemas/agent.ts';

const NL = 0x0a;
const SPACE = 0x20;
const BRACE = 0x7b;
const HEADER = 9;

/** Largest payload of one binary data frame; senders split bigger chunks. */
export const MAX_DATA_BYTES = 64 * 1024;

/** Binary data frame kinds. */
export const DATA_KIND = { stdin: 1, stdout: 2, stderr: 3 } as const;
export type DataType = keyof typeof DATA_KIND;
const KIND_NAMES: ReadonlyArray<DataType | undefined> = [undefined, 'stdin', 'stdout', 'stderr'];

/** A frame longer than the cap; the session ends with an `error` frame. */
export class FrameTooLargeError extends InvalidDataError {
  constructor(max: number) {
    super(`frame exceeds ${max} bytes`);
  }
}

/** What a reader yields, in stream order: whole JSON lines, whole data frames, or problems. */
export type Piece =
  | { kind: 'line'; line: Buffer }
  | { kind: 'data'; type: DataType; session: number; data: Buffer }
  | { kind: 'error'; error: InvalidDataError };

type State = 'idle' | 'header' | 'payload' | 'line' | 'skip';

/**
 * Splits a byte stream into JSON lines and binary data pieces. After an oversized line or
 * garbage it drops bytes up to the next `\n` and carries on, so a multiplexed stream stays
 * in step; the problem is reported in its place.
 */
export class FrameReader {
  private state: State = 'idle';
  private parts: Buffer[] = [];
  private pending = 0;
  private header = Buffer.alloc(HEADER);
  private headerFill = 0;
  private remaining = 0;
  private dataType: DataType = 'stdin';
  private session = 0;

  constructor(private readonly maxLine = MAX_FRAME_BYTES) {}

  /** Feeds one chunk; returns what it completed, in order. */
  push(chunk: Buffer): Piece[] {
    const out: Piece[] = [];
    let i = 0;
    while (i < chunk.length) {
      switch (this.state) {
        case 'idle':
          i = this.idle(chunk, i, out);
          break;
        case 'header':
          i = this.fillHeader(chunk, i, out);
          break;
        case 'payload': {
          const n = Math.min(this.remaining, chunk.length - i);
          const piece = chunk.subarray(i, i + n);
          this.remaining -= n;
          i += n;
          if (this.remaining > 0) {
            this.parts.push(piece);
            break;
          }
          const data = this.parts.length === 0 ? piece : Buffer.concat([...this.parts, piece]);
          this.parts = [];
          out.push({ kind: 'data', type: this.dataType, session: this.session, data });
          this.state = 'idle';
          break;
        }
        case 'line':
          i = this.line(chunk, i, out);
          break;
        case 'skip': {
          const nl = chunk.indexOf(NL, i);
          if (nl === -1) return out;
          this.state = 'idle';
          i = nl + 1;
        }
      }
    }
    return out;
  }

  /** Bytes of an unfinished JSON line (a stream that ends here was cut mid-frame). */
  get buffered(): number {
    return this.state === 'line' ? this.pending : 0;
  }

  private idle(chunk: Buffer, i: number, out: Piece[]): number {
    const b = chunk[i] as number;
    if (b === NL || b === SPACE) return i + 1;
    if (b === BRACE) {
      this.state = 'line';
      this.parts = [];
      this.pending = 0;
      return i;
    }
    if (KIND_NAMES[b] !== undefined) {
      this.state = 'header';
      this.headerFill = 0;
      return i;
    }
    out.push({ kind: 'error', error: new InvalidDataError('frame is not valid JSON') });
    this.state = 'skip';
    return i;
  }

  private fillHeader(chunk: Buffer, i: number, out: Piece[]): number {
    const n = Math.min(HEADER - this.headerFill, chunk.length - i);
    chunk.copy(this.header, this.headerFill, i, i + n);
    this.headerFill += n;
    if (this.headerFill < HEADER) return i + n;
    const length = this.header.readUInt32BE(5);
    this.dataType = KIND_NAMES[this.header[0] as number] as DataType;
    this.session = this.header.readUInt32BE(1);
    if (length > MAX_DATA_BYTES) {
      out.push({ kind: 'error', error: new FrameTooLargeError(MAX_DATA_BYTES) });
      this.state = 'skip';
    } else {
      this.remaining = length;
      this.parts = [];
      this.state = length === 0 ? 'idle' : 'payload';
    }
    return i + n;
  }

  private line(chunk: Buffer, i: number, out: Piece[]): number {
    const nl = chunk.indexOf(NL, i);
    const end = nl === -1 ? chunk.length : nl;
    if (this.pending + (end - i) > this.maxLine) {
      out.push({ kind: 'error', error: new FrameTooLargeError(this.maxLine) });
      this.parts = [];
      this.pending = 0;
      this.state = nl === -1 ? 'skip' : 'idle';
      return nl === -1 ? chunk.length : nl + 1;
    }
    const tail = chunk.subarray(i, end);
    if (nl === -1) {
      this.parts.push(tail);
      this.pending += tail.length;
      return chunk.length;
    }
    out.push({ kind: 'line', line: this.parts.length === 0 ? tail : Buffer.concat([...this.parts, tail]) });
    this.parts = [];
    this.pending = 0;
    this.state = 'idle';
    return nl + 1;
  }
}

/**
 * Encodes `data` as binary data frames (split at MAX_DATA_BYTES; none for no bytes): one
 * buffer per frame, header and payload together so each frame is one write.
 */
export function encodeData(type: DataType, session: number, data: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  for (let at = 0; at < data.length; at += MAX_DATA_BYTES) {
    const piece = data.subarray(at, at + MAX_DATA_BYTES);
    const frame = Buffer.allocUnsafe(HEADER + piece.length);
    frame[0] = DATA_KIND[type];
    frame.writeUInt32BE(session, 1);
    frame.writeUInt32BE(piece.length, 5);
    piece.copy(frame, HEADER);
    frames.push(frame);
  }
  return frames;
}

/** What a schema must offer to decode frames (classic and mini zod schemas both do). */
export interface FrameSchema<T> {
  safeParse(value: unknown): { success: true; data: T } | { success: false; error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> } };
}

/** A parsed line: a known frame, or the type of one this side does not know. */
export type Decoded<T> = { frame: T; unknown?: undefined } | { frame?: undefined; unknown: string };

/**
 * Parses one line against `schema`. Types outside `known` come back as `unknown` (to be
 * ignored); invalid JSON or a known type with bad fields throws InvalidDataError.
 */
export function decodeFrame<T>(line: Buffer | string, schema: FrameSchema<T>, known: ReadonlySet<string>): Decoded<T> {
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
