import { Command, Option } from 'clipanion';
import { VmCreateBase } from './create.ts';
import { parseSeconds } from '../../vm/flags.ts';

export class VmRunCommand extends VmCreateBase {
  static override paths = [['vm', 'run']];
  static override usage = Command.Usage({
    category: 'VM',
    description: 'create a VM from an image and start it',
    details: 'Same flags as `vm create`, plus `--start-timeout`. Prints the VM ID (or, with `-o json`, the running VM\'s record with its `pid`) once the hypervisor answers on its control socket; with `--wait`, only once the guest agent answers too (then `vm exec` works at once). An agent that does not answer within `--wait-timeout` seconds is exit code 7; the VM is left running.',
    examples: [
      ['Run the default guest', '$0 vm run --name demo default'],
      ['Run under software emulation with 512 MiB', '$0 vm run --accel tcg -m 512M default'],
      ['Run and wait until commands can be executed in it', '$0 vm run --wait --name demo default'],
      ['As vk-cocoon runs it', '$0 vm run --output json --name pod1 --cpu 1 --memory 268435456 --storage 1073741824 --nics 0 default'],
    ],
  });

  startTimeout = Option.String('--start-timeout', '30', { description: 'seconds to wait for the hypervisor to answer' });
  wait = Option.Boolean('--wait', false, { description: 'return only once the guest agent answers (vm exec ready)' });
  waitTimeout = Option.String('--wait-timeout', '120', { description: 'seconds --wait waits for the guest agent' });

  override async execute(): Promise<number> {
    const timeoutMs = parseSeconds(this.startTimeout, '--start-timeout');
    const waitMs = parseSeconds(this.waitTimeout, '--wait-timeout');
    this.outputFormat();
    // NOTE: `run` is create + start as one step: a VM that never started is not left behind.
    const started = await this.createFromFlags(timeoutMs);
    if (this.wait) {
      const { agentTarget, waitForAgent } = await import('../../vm/agent.ts');
      await waitForAgent(await agentTarget(this.layout, started.id), waitMs);
    }
    await this.print(started);
    return 0;
  }
}
