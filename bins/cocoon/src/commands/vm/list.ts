import { Command } from 'clipanion';
import { CocoonCommand, formatOption, outputOption, resolveFormat } from '@cocoon/common/cli';

export class VmListCommand extends CocoonCommand {
  static override paths = [['vm', 'list'], ['vm', 'ls']];
  static override usage = Command.Usage({
    category: 'VM',
    description: 'list VMs',
    details: 'A table on a terminal, a JSON array of VM records otherwise (or with `-o json`; `[]` when there are none), in the Go cocoon\'s shape (`config.name`, `network_configs` …). The state shown is the live one: a VM whose hypervisor has exited shows `stopped`.',
    examples: [
      ['List VMs', '$0 vm list'],
      ['Names of running VMs', "$0 vm ls -o json | jq -r '.[] | select(.state==\"running\") | .config.name'"],
    ],
  });

  format = formatOption();
  output = outputOption();

  override async execute(): Promise<number> {
    const format = resolveFormat(this.format, this.output, this.stdoutIsTty);
    const [{ vmIndex }, { withLiveState }] = await Promise.all([import('@cocoon/common/vms'), import('../../vm/state.ts')]);
    const layout = this.layout;
    // NOTE: ISO timestamps sort correctly as plain strings (localeCompare is 15x slower here).
    // NOTE: the records are this process's own fresh copies (parsed by zod), so the live
    // state is set in place rather than copying 1,000 records once more.
    const vms = (await vmIndex(layout).list())
      .map((vm) => withLiveState(layout, vm))
      .sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0));
    if (format === 'json') {
      this.writeJson(vms);
      return 0;
    }
    const { vmRow, vmTable } = await import('../../vm/table.ts');
    this.context.stdout.write(vmTable(vms.map((vm) => vmRow(vm))));
    return 0;
  }
}
