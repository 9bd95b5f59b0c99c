/** The command line of a tool whose commands are planned but not built yet. */
import { Command, type Cli } from 'clipanion';
import { createCli, type CocoonContext } from './cli.ts';
import { CocoonError, ExitCode } from './errors.ts';

/** A Cli with --help/--version and a default command that says what the tool will do. */
export function plannedCli(tool: string, description: string, planned: readonly string[]): Cli<CocoonContext> {
  const cli = createCli(tool, description);
  class PlannedCommand extends Command<CocoonContext> {
    static override paths = [Command.Default];
    static override usage = Command.Usage({
      description,
      details: `Not built yet. Planned commands:\n\n${planned.map((p) => `- \`${tool} ${p}\``).join('\n')}`,
      examples: [['Show this help', `$0 --help`]],
    });
    override async execute(): Promise<number> {
      throw new CocoonError(ExitCode.Usage, `no commands yet; planned: ${planned.map((p) => p.split(' ')[0]).join(', ')} (see "${tool} --help")`);
    }
  }
  cli.register(PlannedCommand);
  return cli;
}
