/**
 * Progress reporting for pulls and imports. Producers open a task per layer and phase and
 * feed it bytes; a sink turns that into bars on a terminal (`tty.ts`), NDJSON events
 * (`--progress json`) or nothing. Everything goes to stderr: stdout keeps only the result.
 */
import { ProgressEventSchema, type ProgressEvent, type ProgressPhase } from '@cocoon/common/schemas/progress';
import { Option } from 'clipanion';
import { UsageError } from '@cocoon/common/errors';
import { rateOf, type TaskState } from './task.ts';
import { TtyRenderer } from './tty.ts';

/** One phase of one item (a layer download, a layer conversion). */
export interface ProgressTask {
  /** Counts `bytes` more bytes done. */
  add(bytes: number): void;
  /** Marks the phase finished; `cached`: there was nothing to do, the store had it. */
  done(cached?: boolean): void;
}

export interface Progress {
  /** Starts a phase of `item` (a layer digest, a cloud image source) of `image`. */
  begin(image: string, item: string, phase: ProgressPhase, total: number | null): ProgressTask;
  /** Reports that `item` needs no work: the store has it. */
  cached(image: string, item: string, phase: ProgressPhase, total: number | null): void;
  /** Draws the final state and stops redrawing. */
  close(): void;
}

export type ProgressMode = 'tty' | 'json' | 'none';

const NOOP_TASK: ProgressTask = { add: () => {}, done: () => {} };

/** A sink that reports nothing. */
export const NO_PROGRESS: Progress = { begin: () => NOOP_TASK, cached: () => {}, close: () => {} };

/** The `--progress` option of the commands that download or convert. */
export function progressOption(): string {
  return Option.String('--progress', 'auto', { description: 'progress on stderr: auto (bars on a terminal, else nothing), json (NDJSON events) or none' });
}

/** The progress sink a command's `--progress` flag asks for, writing to its stderr. */
export function openProgress(flag: string, stderr: NodeJS.WritableStream): Progress {
  return createProgress(progressMode(flag, Boolean((stderr as NodeJS.WriteStream).isTTY)), stderr);
}

/** `--progress auto|json|none` → the mode for a stderr that is (or is not) a terminal. */
export function progressMode(flag: string, stderrIsTty: boolean): ProgressMode {
  if (flag === 'json' || flag === 'none') return flag;
  if (flag === 'auto') return stderrIsTty ? 'tty' : 'none';
  throw new UsageError(`--progress: "${flag}" is not auto, json or none`);
}

/** A progress sink writing to `stream` in `mode`. */
export function createProgress(mode: ProgressMode, stream: NodeJS.WritableStream): Progress {
  if (mode === 'none') return NO_PROGRESS;
  const sink = mode === 'json' ? new JsonSink(stream) : new TtyRenderer(stream as NodeJS.WriteStream);
  const open = (image: string, item: string, phase: ProgressPhase, total: number | null, cached: boolean): TaskState => {
    const now = Date.now();
    const t: TaskState = { image, item, phase, bytes: 0, total, started: now, ended: cached ? now : null, cached };
    sink.update(t, cached ? 'cached' : 'start');
    return t;
  };
  return {
    begin(image, item, phase, total) {
      const t = open(image, item, phase, total, false);
      return {
        add(bytes) {
          t.bytes += bytes;
          sink.update(t, 'progress');
        },
        done(cached = false) {
          if (t.ended !== null) return;
          t.ended = Date.now();
          t.cached = cached;
          sink.update(t, cached ? 'cached' : 'done');
        },
      };
    },
    cached: (image, item, phase, total) => void open(image, item, phase, total, true),
    close: () => sink.close(),
  };
}

/** The NDJSON event for a task in `state`. */
export function toEvent(t: TaskState, state: ProgressEvent['state'], now = Date.now()): ProgressEvent {
  const { rate, eta } = rateOf(t, now);
  return ProgressEventSchema.parse({
    type: 'progress', ts: new Date(now).toISOString(), image: t.image, item: t.item, phase: t.phase, state,
    bytes: t.bytes, total: t.total, rate: rate === null ? null : Math.round(rate), eta_s: eta === null ? null : Math.round(eta * 10) / 10,
    elapsed_ms: (t.ended ?? now) - t.started,
  });
}

/** NDJSON: every start/done/cached, and a `progress` event per task at most every 500 ms. */
class JsonSink {
  private readonly last = new WeakMap<TaskState, number>();
  constructor(private readonly stream: NodeJS.WritableStream) {}

  update(t: TaskState, state: ProgressEvent['state']): void {
    const now = Date.now();
    if (state === 'progress' && now - (this.last.get(t) ?? 0) < 500) return;
    this.last.set(t, now);
    this.stream.write(`${JSON.stringify(toEvent(t, state, now))}\n`);
  }

  close(): void {}
}
