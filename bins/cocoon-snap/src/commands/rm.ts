import { Command, Option } from 'clipanion';
import { CocoonCommand } from '@cocoon/common/cli';

export class RmCommand extends CocoonCommand {
  static override paths = [['rm'], ['remove']];
  static override usage = Command.Usage({
    description: 'remove one or more snapshots and their files',
    details: 'Prints the IDs removed. A missing snapshot is "snapshot not found" (exit 3); the others given are still removed.',
    examples: [['Remove two snapshots', '$0 rm web-1 web-2']],
  });

  refs = Option.Rest({ required: 1, name: 'SNAPSHOT' });

  override async execute(): Promise<number> {
    const { removeSnapshot } = await import('../remove.ts');
    let failed: unknown;
    for (const ref of this.refs) {
      try {
        this.context.stdout.write(`${(await removeSnapshot(this.layout, ref)).id}\n`);
      } catch (err) {
        failed ??= err;
        if (this.refs.length > 1) this.context.stderr.write(`${this.context.tool}: ${(err as Error).message}\n`);
      }
    }
    if (failed) throw failed;
    return 0;
  }
}
