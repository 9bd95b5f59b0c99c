import { Command, Option } from 'clipanion';
import { CocoonCommand, formatOption, outputOption, resolveFormat } from '@cocoon/common/cli';

export class ListCommand extends CocoonCommand {
  static override paths = [['list'], ['ls']];
  static override usage = Command.Usage({
    description: 'list snapshots',
    details: 'A table on a terminal, a JSON array of snapshot records otherwise (or with `-o json`; `[]` when there are none), in the Go cocoon\'s flat shape. Snapshots still being saved or imported are not listed.',
    examples: [
      ['List snapshots', '$0 list'],
      ['Snapshots of VM web, as JSON', '$0 list --vm web -o json'],
    ],
  });

  vm = Option.String('--vm', { description: 'only snapshots taken of this VM' });
  format = formatOption();
  output = outputOption();

  override async execute(): Promise<number> {
    const format = resolveFormat(this.format, this.output, this.stdoutIsTty);
    const [{ snapshotIndex, visible }, { recoverStaleSnapshots }, { vmIndex }] = await Promise.all([
      import('@cocoon/common/snapshots/store'),
      import('@cocoon/common/snapshots/recover'),
      import('@cocoon/common/vms'),
    ]);
    await recoverStaleSnapshots(this.layout);
    const vmId = this.vm === undefined ? undefined : (await vmIndex(this.layout).resolve(this.vm)).id;
    const all = visible(await snapshotIndex(this.layout).list())
      .filter((s) => vmId === undefined || s.vm_id === vmId)
      .sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0));
    if (format === 'json') {
      this.writeJson(all);
      return 0;
    }
    const [{ renderTable, timeAgo }, { formatSize }] = await Promise.all([import('@cocoon/common/table'), import('@cocoon/common/units')]);
    const rows = all.map((s) => [s.id.slice(0, 12), s.name, s.image, String(s.cpu), formatSize(s.memory), formatSize(s.storage), s.hypervisor, formatSize((s.files ?? []).reduce((n, f) => n + f.size, 0)), timeAgo(s.created_at)]);
    this.context.stdout.write(renderTable(['ID', 'NAME', 'IMAGE', 'CPU', 'MEMORY', 'STORAGE', 'HYPERVISOR', 'SIZE', 'CREATED'], rows));
    return 0;
  }
}
