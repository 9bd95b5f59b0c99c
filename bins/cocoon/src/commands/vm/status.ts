import { Command, Option } from 'clipanion';
import { chooseFormat, CocoonCommand, formatOption, outputOption } from '@cocoon/common/cli';
import { UsageError } from '@cocoon/common/errors';
import type { VmView } from '../../vm/watch.ts';

export class VmStatusCommand extends CocoonCommand {
  static override paths = [['vm', 'status']];
  static override usage = Command.Usage({
    category: 'VM',
    description: 'watch VMs change, as a live table or as a stream of events',
    details: [
      'Watches the VM index (inotify on its directory, debounced, re-read every `-n` seconds as well) and checks the hypervisor process of every running VM each second: a running record whose process is gone shows `stopped (stale)`.',
      'Without `--event`: the VM table, redrawn in place like `watch` on a terminal, printed again on each change otherwise. With `--event`: one line per change, `ADDED`, `MODIFIED` or `DELETED`; with `--format json`, one JSON object a line, `{"event":"ADDED","vm":{…}}`, the VM in the shape `vm inspect` prints (its live state: a stale VM is `"stopped"`), for controllers such as vk-cocoon.',
      'VM arguments filter by ID, name or ID prefix (3 characters or more). Runs until interrupted (Ctrl-C, SIGTERM) and then exits 0.',
    ].join('\n\n'),
    examples: [
      ['A live table of all VMs', '$0 vm status'],
      ['Events of two VMs', '$0 vm status --event web db'],
      ['Events as NDJSON for a controller', '$0 vm status --event --format json'],
    ],
  });

  interval = Option.String('-n,--interval', '5', { description: 'seconds between full re-reads of the index (default 5)' });
  event = Option.Boolean('--event', false, { description: 'print one line per change instead of the table' });
  format = formatOption('table (default) or json (with --event: one JSON object a line)');
  output = outputOption();
  filters = Option.Rest({ name: 'VM' });

  override async execute(): Promise<number> {
    const seconds = Number(this.interval);
    if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError(`-n/--interval: "${this.interval}" must be a number of seconds > 0`);
    const format = chooseFormat(this.format, this.output, ['table', 'json'] as const, 'table');
    if (format === 'json' && !this.event) throw new UsageError('--format json needs --event (the table mode is for people; use "cocoon vm list -o json" for one snapshot)');
    const { IndexWatcher, matchesFilter } = await import('../../vm/watch.ts');
    const render = this.event ? await this.eventPrinter(format) : await this.tablePrinter();
    return new Promise<number>((resolve) => {
      const watcher = new IndexWatcher(this.layout, seconds * 1000, (views) => render(views.filter((v) => matchesFilter(v.vm, this.filters))), (err) => this.warn(err));
      const stop = () => {
        watcher.stop();
        for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, stop);
        resolve(0);
      };
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, stop);
      // NOTE: a reader that went away (EPIPE) ends the watch like a signal.
      this.context.stdout.on('error', stop);
      watcher.start();
    });
  }

  private warn(err: unknown): void {
    this.context.stderr.write(`cocoon: vm status: ${(err as Error).message}\n`);
  }

  /** Event mode: a header (text) and one line per change. */
  private async eventPrinter(format: 'table' | 'json'): Promise<(views: VmView[]) => void> {
    const [{ diffViews, stateLabel }, { vmIps }, { formatSize }] = await Promise.all([import('../../vm/watch.ts'), import('../../vm/table.ts'), import('@cocoon/common/units')]);
    const out = this.context.stdout;
    let prev = new Map<string, { key: string; view: VmView }>();
    const cols = [10, 14, 20, 17, 5, 8, 16];
    const row = (cells: string[]) => `${cells.map((c, i) => (i < cols.length ? c.padEnd(cols[i] ?? 0) : c)).join('')}`.trimEnd();
    if (format === 'table') out.write(`${row(['EVENT', 'ID', 'NAME', 'STATE', 'CPU', 'MEMORY', 'IP', 'IMAGE'])}\n`);
    return (views) => {
      const { events, next } = diffViews(prev, views);
      prev = next;
      for (const { event, view } of events) {
        const vm = view.vm;
        if (format === 'json') out.write(`${JSON.stringify({ event, vm })}\n`);
        else out.write(`${row([event, vm.id.slice(0, 12), vm.config.name, stateLabel(view), String(vm.config.cpu), formatSize(vm.config.memory), vmIps(vm), vm.config.image])}\n`);
      }
    };
  }

  /** Table mode: the table again whenever it changes (redrawn in place on a terminal). */
  private async tablePrinter(): Promise<(views: VmView[]) => void> {
    const [{ stateLabel }, { vmRow, vmTable }] = await Promise.all([import('../../vm/watch.ts'), import('../../vm/table.ts')]);
    const out = this.context.stdout;
    const tty = this.stdoutIsTty;
    let last = '';
    return (views) => {
      const rows = views.map((v) => vmRow(v.vm, stateLabel(v)));
      // NOTE: compared without the CREATED column, whose "N seconds ago" changes every second.
      const key = JSON.stringify(rows.map((r) => r.slice(0, -1)));
      if (key === last) return;
      last = key;
      const table = rows.length ? vmTable(rows) : 'No VMs found.\n';
      const now = new Date();
      const header = `Every ${this.interval}s: ${now.toISOString().slice(0, 19).replace('T', ' ')} (Ctrl-C to quit)\n\n`;
      out.write(tty ? `\x1b[H\x1b[2J${header}${table}` : `${header}${table}\n`);
    };
  }
}
