import { Command, Option } from 'clipanion';
import { CocoonCommand } from '@cocoon/common/cli';
import { networksIndex } from '@cocoon/common/net/networks';

export class InspectCommand extends CocoonCommand {
  static override paths = [['inspect']];
  static override usage = Command.Usage({
    description: 'print the networks index record of a VM as JSON',
    details: 'The VM is given by ID or unique ID prefix. Not found is exit 3.',
    examples: [['Inspect a VM\'s network', '$0 inspect 0123456789ab']],
  });

  id = Option.String({ name: 'VM-ID' });

  override async execute(): Promise<number> {
    this.writeJson(await networksIndex(this.layout).resolve(this.id));
    return 0;
  }
}
