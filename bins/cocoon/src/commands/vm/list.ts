import { Command } from 'clipanion';
import { CocoonCommand, formatOption, resolveFormat } from '@cocoon/common/cli';
import { renderTable, timeAgo } from '@cocoon/common/table';
import { formatSize } from '@cocoon/common/units';
import { vmIndex } from '@cocoon/common/vms';
import { liveState } from '../../vm/lifecycle.ts';

export class VmListCommand extends CocoonCommand {
  static override paths = [['vm', 'list'], ['vm', 'ls']];
  static override usage = Command.Usage({
    category: 'VM',
    description: 'list VMs',
    details: 'A table on a terminal, a JSON array of VM records otherwise (or with `--format json`). The state shown is the live one: a VM whose hypervisor has exited shows `stopped`.',
    examples: [
      ['List VMs', '$0 vm list'],
      ['Names of running VMs', "$0 vm ls --format json | jq -r '.[] | select(.state==\"running\") | .name'"],
    ],
  });

  format = formatOption();

  override async execute(): Promise<number> {
    const format = resolveFormat(this.format, this.stdoutIsTty);
    const vms = (await vmIndex(this.layout).list())
      .map((vm) => ({ ...vm, state: liveState(this.layout, vm) }))
      .sort((a, b) => a.created_at.localeCompare(b.created_at));
    if (format === 'json') {
      this.writeJson(vms);
      return 0;
    }
    const rows = vms.map((vm) => [vm.id.slice(0, 12), vm.name, vm.state, vm.image.ref, String(vm.cpu), formatSize(vm.memory), formatSize(vm.storage), vm.hypervisor, timeAgo(vm.created_at)]);
    this.context.stdout.write(renderTable(['ID', 'NAME', 'STATE', 'IMAGE', 'CPU', 'MEMORY', 'STORAGE', 'HYPERVISOR', 'CREATED'], rows));
    return 0;
  }
}
