import { Command, Option } from 'clipanion';
import { CocoonCommand } from '@cocoon/common/cli';
import { findImage } from '@cocoon/common/images/resolve';

export class InspectCommand extends CocoonCommand {
  static override paths = [['inspect']];
  static override usage = Command.Usage({
    category: 'Images',
    description: 'print the full record of an image as JSON',
    details: 'REF is an image ID, a name, or a unique ID prefix (at least 3 characters).',
    examples: [['Inspect the default guest', '$0 inspect default']],
  });

  ref = Option.String({ name: 'REF' });

  override async execute(): Promise<number> {
    this.writeJson(await findImage(this.layout, this.ref));
    return 0;
  }
}
