import { Command, Option } from 'clipanion';
import { CocoonCommand, formatOption, outputOption } from '@cocoon/common/cli';
import { forEachRef, wantsJson } from '../../vm/flags.ts';

export class VmPauseCommand extends CocoonCommand {
  static override paths = [['vm', 'pause']];
  static override usage = Command.Usage({
    category: 'VM',
    description: 'pause the vCPUs of one or more running VMs (state paused; memory and devices stay)',
    examples: [['Pause VM web', '$0 vm pause web']],
  });

  format = formatOption('id (default): one ID a line; json: {"succeeded": [IDs]}');
  output = outputOption();
  refs = Option.Rest({ required: 1, name: 'VM' });

  override async execute(): Promise<number> {
    const { setPaused } = await import('../../vm/pause.ts');
    return forEachRef(this.refs, this.context, async (ref) => setPaused(this.layout, ref, true), wantsJson(this.format, this.output));
  }
}
