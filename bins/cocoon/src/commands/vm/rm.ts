import { Command, Option } from 'clipanion';
import { CocoonCommand, formatOption, outputOption } from '@cocoon/common/cli';
import { forEachRef, wantsJson } from '../../vm/flags.ts';

export class VmRmCommand extends CocoonCommand {
  static override paths = [['vm', 'rm'], ['vm', 'remove']];
  static override usage = Command.Usage({
    category: 'VM',
    description: 'remove one or more VMs and their disks',
    examples: [
      ['Remove a stopped VM', '$0 vm rm web'],
      ['Kill and remove a running VM', '$0 vm rm --force web'],
    ],
  });

  force = Option.Boolean('--force', false, { description: 'kill a running VM first' });
  format = formatOption('id (default): one ID a line; json: {"succeeded": [IDs]}');
  output = outputOption();
  refs = Option.Rest({ required: 1, name: 'VM' });

  override async execute(): Promise<number> {
    const { removeVm } = await import('../../vm/lifecycle.ts');
    const json = wantsJson(this.format, this.output);
    return forEachRef(this.refs, this.context, async (ref) => removeVm(this.layout, ref, this.force), json);
  }
}
