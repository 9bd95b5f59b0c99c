import { Command, Option } from 'clipanion';
import { CocoonCommand } from '@cocoon/common/cli';
import { networksIndex } from '@cocoon/common/net/networks';

export class CheckCommand extends CocoonCommand {
  static override paths = [['check']];
  static override usage = Command.Usage({
    description: 'check that a VM\'s network is intact: netns, TAPs, and the plugins\' CNI CHECK',
    details: 'Prints the VM ID when everything is in place; otherwise names the first missing piece (exit 10).',
    examples: [['Check a VM\'s network', '$0 check 0123456789abcdef0123456789abcdef']],
  });

  id = Option.String({ name: 'VM-ID' });

  override async execute(): Promise<number> {
    const rec = await networksIndex(this.layout).resolve(this.id);
    const { checkNetwork } = await import('../check.ts');
    await checkNetwork(this.layout, rec);
    this.context.stdout.write(`${rec.id}\n`);
    return 0;
  }
}
