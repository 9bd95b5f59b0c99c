import { Command } from 'clipanion';
import { chooseFormat, formatOption, outputOption, VERSION, type CocoonContext } from '@cocoon/common/cli';

/** A plain clipanion Command: printing the version needs no config, so it starts fastest. */
export class VersionCommand extends Command<CocoonContext> {
  static override paths = [['version']];
  static override usage = Command.Usage({
    description: 'print the cocoon version',
    examples: [['Print the version', '$0 version'], ['As JSON', '$0 version --format json']],
  });

  format = formatOption('text (default) or json');
  output = outputOption();

  override async execute(): Promise<number> {
    const format = chooseFormat(this.format, this.output, ['text', 'json'] as const, 'text');
    if (format === 'json') this.context.stdout.write(`${JSON.stringify({ version: VERSION, node: process.versions.node, platform: `${process.platform}/${process.arch}` })}\n`);
    else this.context.stdout.write(`cocoon ${VERSION}\n`);
    return 0;
  }
}
