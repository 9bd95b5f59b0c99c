import { Command, Option } from 'clipanion';
import { CocoonCommand, formatOption, outputOption } from '@cocoon/common/cli';
import { forEachRef, wantsJson } from '../../vm/flags.ts';

export class VmResumeCommand extends CocoonCommand {
  static override paths = [['vm', 'resume']];
  static override usage = Command.Usage({
    category: 'VM',
    description: 'let the vCPUs of one or more paused VMs run again',
    examples: [['Resume VM web', '$0 vm resume web']],
  });

  format = formatOption('id (default): one ID a line; json: {"succeeded": [IDs]}');
  output = outputOption();
  refs = Option.Rest({ required: 1, name: 'VM' });

  override async execute(): Promise<number> {
    const { setPaused } = await import('../../vm/pause.ts');
    return forEachRef(this.refs, this.context, async (ref) => setPaused(this.layout, ref, false), wantsJson(this.format, this.output));
  }
}
