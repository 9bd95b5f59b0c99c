import { Command, Option } from 'clipanion';
import { VmCreateBase } from './create.ts';
import { parseSeconds } from '../../vm/flags.ts';

export class VmRunCommand extends VmCreateBase {
  static override paths = [['vm', 'run']];
  static override usage = Command.Usage({
    category: 'VM',
    description: 'create a VM from an image and start it',
    details: 'Same flags as `vm create`, plus `--start-timeout`. Prints the VM ID once the hypervisor answers on its control socket.',
    examples: [
      ['Run the default guest', '$0 vm run --name demo default'],
      ['Run under software emulation with 512 MiB', '$0 vm run --accel tcg -m 512M default'],
    ],
  });

  startTimeout = Option.String('--start-timeout', '30', { description: 'seconds to wait for the hypervisor to answer' });

  override async execute(): Promise<number> {
    const timeoutMs = parseSeconds(this.startTimeout, '--start-timeout');
    const created = await this.createFromFlags();
    const { removeVm, startVm } = await import('../../vm/lifecycle.ts');
    try {
      this.print(await startVm(this.layout, created.id, timeoutMs));
    } catch (err) {
      // NOTE: `run` is create + start as one step: a VM that never started is not left behind.
      await removeVm(this.layout, created.id, true).catch(() => undefined);
      throw err;
    }
    return 0;
  }
}
