import { Command, Option } from 'clipanion';
import { VERSION, type CocoonContext } from '@cocoon/common/cli';
import { UsageError } from '@cocoon/common/errors';

/** A plain clipanion Command: printing the version needs no config, so it starts fastest. */
export class VersionCommand extends Command<CocoonContext> {
  static override paths = [['version']];
  static override usage = Command.Usage({
    description: 'print the cocoon version',
    examples: [['Print the version', '$0 version'], ['As JSON', '$0 version --format json']],
  });

  format = Option.String('--format,-f', { description: 'text (default) or json' });

  override async execute(): Promise<number> {
    if (this.format === 'json') this.context.stdout.write(`${JSON.stringify({ version: VERSION, node: process.versions.node, platform: `${process.platform}/${process.arch}` })}\n`);
    else if (this.format === undefined || this.format === 'text') this.context.stdout.write(`cocoon ${VERSION}\n`);
    else throw new UsageError(`--format: "${this.format}" is not one of text, json`);
    return 0;
  }
}
