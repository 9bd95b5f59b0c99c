/**
 * Watching the VM index for `cocoon vm status`: fs.watch on the index's directory (writers
 * replace the file by rename), debounced, with a polling fallback; and every second a
 * cheap check of the hypervisor processes of running records (a VM that dies changes no
 * file). Level-triggered: every wake reads the whole index, and a change that lands while
 * a read is under way schedules one more read, so the final state of two quick writes is
 * always seen.
 */
import { mkdirSync, watch, type FSWatcher } from 'node:fs';
import type { Layout } from '@cocoon/common/layout';
import type { VmRecord } from '@cocoon/common/schemas/vm';
import { isLive, isStale, withLiveState } from './state.ts';
import { vmIndex } from '@cocoon/common/vms';

/** One VM as `vm status` shows it. */
export interface VmView {
  /** The record with its live state (as `vm inspect` prints it). */
  vm: VmRecord;
  /** Running in the record, but its hypervisor is gone (`stopped (stale)`). */
  stale: boolean;
}

const DEBOUNCE_MS = 50;
const LIVENESS_MS = 1000;

/** Calls `onViews` with the current VMs on start, after every index change and every `intervalMs`. */
export class IndexWatcher {
  private watcher: FSWatcher | null = null;
  private timers: NodeJS.Timeout[] = [];
  private reading = false;
  private dirty = false;
  private debounce: NodeJS.Timeout | null = null;
  private last: VmRecord[] = [];
  private stopped = false;

  constructor(
    private readonly layout: Layout,
    private readonly intervalMs: number,
    private readonly onViews: (views: VmView[]) => void,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Starts watching; returns whether fs.watch is in use (false: polling only). */
  start(): boolean {
    let watching = false;
    try {
      mkdirSync(this.layout.vms.dir, { recursive: true, mode: 0o700 });
      this.watcher = watch(this.layout.vms.dir, () => this.schedule());
      this.watcher.on('error', () => this.watcher?.close());
      watching = true;
    } catch {
      // no inotify (or no such directory and no right to make it): the timer alone
    }
    this.timers.push(setInterval(() => this.schedule(), this.intervalMs));
    this.timers.push(setInterval(() => this.emitFromLast(), LIVENESS_MS));
    void this.read();
    return watching;
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.close();
    for (const t of this.timers) clearInterval(t);
    if (this.debounce) clearTimeout(this.debounce);
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.reading) {
      this.dirty = true;
      return;
    }
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.read(), DEBOUNCE_MS);
  }

  private async read(): Promise<void> {
    this.debounce = null;
    this.reading = true;
    this.dirty = false;
    try {
      this.last = await vmIndex(this.layout).list();
      if (!this.stopped) this.onViews(this.views(this.last));
    } catch (err) {
      // NOTE: a torn or locked read is retried on the next change or tick.
      this.onError(err);
    } finally {
      this.reading = false;
      if (this.dirty && !this.stopped) this.schedule();
    }
  }

  /** Re-checks the processes of the last records read (no index read). */
  private emitFromLast(): void {
    if (!this.stopped && !this.reading && this.last.some((vm) => isLive(vm.state))) this.onViews(this.views(this.last));
  }

  private views(records: VmRecord[]): VmView[] {
    return records
      .map((r) => {
        const copy = structuredClone(r);
        return { stale: isStale(this.layout, copy), vm: withLiveState(this.layout, copy) };
      })
      .sort((a, b) => (a.vm.created_at < b.vm.created_at ? -1 : a.vm.created_at > b.vm.created_at ? 1 : 0));
  }
}

/** `vm status` filters: an ID, a name, or an ID prefix of at least 3 characters (as the Go cocoon). */
export function matchesFilter(vm: VmRecord, filters: readonly string[]): boolean {
  return filters.length === 0 || filters.some((f) => vm.id === f || vm.config.name === f || (f.length >= 3 && vm.id.startsWith(f)));
}

/** The state column: `stopped (stale)` for a running record whose hypervisor is gone. */
export function stateLabel(view: VmView): string {
  return view.stale ? 'stopped (stale)' : view.vm.state;
}

export type VmEventKind = 'ADDED' | 'MODIFIED' | 'DELETED';

/**
 * Events between two observations (keyed by ID; a view is compared by its printed JSON and
 * its stale flag). Returns the events and the new observation.
 */
export function diffViews(prev: Map<string, { key: string; view: VmView }>, views: VmView[]): { events: Array<{ event: VmEventKind; view: VmView }>; next: Map<string, { key: string; view: VmView }> } {
  const next = new Map(views.map((view) => [view.vm.id, { key: `${view.stale}:${JSON.stringify(view.vm)}`, view }]));
  const events: Array<{ event: VmEventKind; view: VmView }> = [];
  for (const [id, cur] of next) {
    const old = prev.get(id);
    if (!old) events.push({ event: 'ADDED', view: cur.view });
    else if (old.key !== cur.key) events.push({ event: 'MODIFIED', view: cur.view });
  }
  for (const [id, old] of prev) if (!next.has(id)) events.push({ event: 'DELETED', view: old.view });
  return { events, next };
}
