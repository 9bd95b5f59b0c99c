/**
 * Progress bars on a terminal: one line per item, redrawn in place at most 10 times a second
 * (cursor up + clear line), with bytes, rate and ETA. Written here rather than taken from npm:
 * the few lines of drawing share the task state and rate maths with the NDJSON sink, and the
 * candidates (cli-progress, progress) bring their own rate estimators and formats.
 */
import { formatSize } from '@cocoon/common/units';
import { rateOf, type TaskState } from './task.ts';

const BAR = 20;
const FRAME_MS = 100;

export class TtyRenderer {
  /** One row per item; a new phase of the same item replaces its row. */
  private readonly rows = new Map<string, TaskState>();
  private drawn = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  update(t: TaskState, state: string): void {
    this.rows.set(`${t.image}\0${t.item}`, t);
    if (state === 'progress') this.schedule();
    else this.draw();
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.rows.size > 0) this.draw();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.draw();
    }, FRAME_MS);
    // NOTE: a pending frame must not keep the process alive after the work is done.
    this.timer.unref();
  }

  private draw(): void {
    const width = Math.max(40, (this.stream.columns || 100) - 1);
    const now = Date.now();
    const lines = [...this.rows.values()].map((t) => formatRow(t, now).slice(0, width));
    const up = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    this.stream.write(`${up}${lines.map((l) => `\r\x1b[2K${l}\n`).join('')}`);
    this.drawn = lines.length;
  }
}

/** `a1b2c3d4e5f6 download [#####-----] 12.0 MiB / 48.0 MiB  9.1 MiB/s  ETA 4s` */
export function formatRow(t: TaskState, now: number): string {
  const id = (t.item.startsWith('sha256:') ? t.item.slice(7, 19) : t.item).padEnd(12).slice(0, 24);
  const head = `${id} ${t.phase.padEnd(8)}`;
  if (t.cached) return `${head} already in the store`;
  const { rate, eta } = rateOf(t, now);
  const secs = (((t.ended ?? now) - t.started) / 1000).toFixed(1);
  if (t.total === null || t.phase === 'convert') {
    return t.ended === null ? `${head} … ${secs}s` : `${head} done in ${secs}s`;
  }
  const frac = t.total > 0 ? Math.min(1, t.bytes / t.total) : 1;
  const fill = Math.round(frac * BAR);
  const bar = `[${'#'.repeat(fill)}${'-'.repeat(BAR - fill)}]`;
  const amount = `${formatSize(t.bytes)} / ${formatSize(t.total)}`;
  const speed = rate === null ? '' : `  ${formatSize(Math.round(rate))}/s`;
  const tail = t.ended !== null ? `  done in ${secs}s` : eta === null ? '' : `  ETA ${formatEta(eta)}`;
  return `${head} ${bar} ${amount}${speed}${tail}`;
}

function formatEta(s: number): string {
  if (s < 60) return `${Math.ceil(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.ceil(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
