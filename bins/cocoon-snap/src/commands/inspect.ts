import { Command, Option } from 'clipanion';
import { CocoonCommand } from '@cocoon/common/cli';

export class InspectCommand extends CocoonCommand {
  static override paths = [['inspect']];
  static override usage = Command.Usage({
    description: 'print a snapshot record as JSON',
    details: 'The Go cocoon\'s flat snapshot shape (`id`, `name`, `image`, `cpu`, `memory` …) plus cocoon\'s keys (`files` with their digests, `machine`). A missing snapshot is "snapshot not found" (exit 3).',
    examples: [['Inspect snapshot web-1', '$0 inspect web-1']],
  });

  snapshot = Option.String({ name: 'SNAPSHOT' });

  override async execute(): Promise<number> {
    const { findSnapshot } = await import('@cocoon/common/snapshots/store');
    this.writeJson(await findSnapshot(this.layout, this.snapshot));
    return 0;
  }
}
