import { Command, Option } from 'clipanion';
import { CocoonCommand } from '@cocoon/common/cli';
import { parseSeconds } from '../../vm/flags.ts';

export class VmStartCommand extends CocoonCommand {
  static override paths = [['vm', 'start']];
  static override usage = Command.Usage({
    category: 'VM',
    description: 'start one or more created or stopped VMs',
    examples: [['Start a VM by name', '$0 vm start web']],
  });

  startTimeout = Option.String('--start-timeout', '30', { description: 'seconds to wait for the hypervisor to answer' });
  refs = Option.Rest({ required: 1, name: 'VM' });

  override async execute(): Promise<number> {
    const timeoutMs = parseSeconds(this.startTimeout, '--start-timeout');
    const { startVm } = await import('../../vm/lifecycle.ts');
    for (const ref of this.refs) {
      const vm = await startVm(this.layout, ref, timeoutMs);
      this.context.stdout.write(`${vm.id}\n`);
    }
    return 0;
  }
}
