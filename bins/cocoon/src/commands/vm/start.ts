import { Command, Option } from 'clipanion';
import { CocoonCommand, formatOption, outputOption } from '@cocoon/common/cli';
import { parseSeconds, wantsJson } from '../../vm/flags.ts';

export class VmStartCommand extends CocoonCommand {
  static override paths = [['vm', 'start']];
  static override usage = Command.Usage({
    category: 'VM',
    description: 'start one or more created or stopped VMs',
    examples: [['Start a VM by name', '$0 vm start web']],
  });

  startTimeout = Option.String('--start-timeout', '30', { description: 'seconds to wait for the hypervisor to answer' });
  wait = Option.Boolean('--wait', false, { description: 'return only once the guest agent answers (vm exec ready)' });
  waitTimeout = Option.String('--wait-timeout', '120', { description: 'seconds --wait waits for the guest agent' });
  format = formatOption('id (default): one ID a line; json: {"succeeded": [IDs]}');
  output = outputOption();
  refs = Option.Rest({ required: 1, name: 'VM' });

  override async execute(): Promise<number> {
    const timeoutMs = parseSeconds(this.startTimeout, '--start-timeout');
    const waitMs = parseSeconds(this.waitTimeout, '--wait-timeout');
    const json = wantsJson(this.format, this.output);
    const { startVm } = await import('../../vm/lifecycle.ts');
    const started = [];
    for (const ref of this.refs) started.push(await startVm(this.layout, ref, timeoutMs));
    if (this.wait) {
      const { agentTarget, waitForAgent } = await import('../../vm/agent.ts');
      // The guests boot side by side: wait for all of them together.
      await Promise.all(started.map(async (vm) => waitForAgent(await agentTarget(this.layout, vm.id), waitMs)));
    }
    if (json) this.writeJson({ succeeded: started.map((vm) => vm.id) });
    else for (const vm of started) this.context.stdout.write(`${vm.id}\n`);
    return 0;
  }
}
