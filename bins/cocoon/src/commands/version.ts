import { Command } from 'clipanion';
import { BUILD_TIME, GIT_REVISION } from '@cocoon/common/build-info';
import { chooseFormat, formatOption, outputOption, VERSION, type CocoonContext } from '@cocoon/common/cli';

/** A plain clipanion Command: printing the version needs no config, so it starts fastest. */
export class VersionCommand extends Command<CocoonContext> {
  static override paths = [['version']];
  static override usage = Command.Usage({
    description: 'print the cocoon version, git revision and build time',
    examples: [['Print the version', '$0 version'], ['As JSON', '$0 version --format json']],
  });

  format = formatOption('text (default) or json');
  output = outputOption();

  override async execute(): Promise<number> {
    const format = chooseFormat(this.format, this.output, ['text', 'json'] as const, 'text');
    if (format === 'json') {
      const info = { version: VERSION, git_revision: GIT_REVISION, build_time: BUILD_TIME, node: process.versions.node, platform: `${process.platform}/${process.arch}` };
      this.context.stdout.write(`${JSON.stringify(info)}\n`);
    } else {
      this.context.stdout.write(`cocoon ${VERSION} (git ${GIT_REVISION}, built ${BUILD_TIME})\n`);
    }
    return 0;
  }
}
