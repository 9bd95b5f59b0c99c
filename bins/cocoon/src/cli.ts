import { createCli, type CocoonCli } from '@cocoon/common/cli';
import { CompleteNamesCommand, CompletionCommand } from './commands/completion.ts';
import { TOOL_COMMANDS } from './commands/tools.ts';
import { VersionCommand } from './commands/version.ts';
import { VmCloneCommand } from './commands/vm/clone.ts';
import { VmCreateCommand } from './commands/vm/create.ts';
import { VmDebugCommand } from './commands/vm/debug.ts';
import { VmExecCommand } from './commands/vm/exec.ts';
import { VmForkCommand } from './commands/vm/fork.ts';
import { VmInspectCommand } from './commands/vm/inspect.ts';
import { VmListCommand } from './commands/vm/list.ts';
import { VmLogsCommand } from './commands/vm/logs.ts';
import { VmPauseCommand } from './commands/vm/pause.ts';
import { VmRestoreCommand } from './commands/vm/restore.ts';
import { VmResumeCommand } from './commands/vm/resume.ts';
import { VmRmCommand } from './commands/vm/rm.ts';
import { VmRunCommand } from './commands/vm/run.ts';
import { VmStartCommand } from './commands/vm/start.ts';
import { VmStatusCommand } from './commands/vm/status.ts';
import { VmStopCommand } from './commands/vm/stop.ts';

/** cocoon's own commands. VM lifecycle commands live here; other nouns dispatch to cocoon-<sub>. */
export const COMMANDS = [VersionCommand, CompletionCommand, CompleteNamesCommand, VmCreateCommand, VmRunCommand, VmStartCommand, VmStopCommand, VmListCommand, VmInspectCommand, VmRmCommand, VmDebugCommand, VmExecCommand, VmLogsCommand, VmStatusCommand, VmPauseCommand, VmResumeCommand, VmCloneCommand, VmForkCommand, VmRestoreCommand, ...TOOL_COMMANDS];

/**
 * The Cli for `argv`: when its leading words name one command (`vm ls …`), only that command
 * is registered, because clipanion builds its parser for every registered command at start-up
 * (~7 ms for all of them); otherwise (help, typos) all of them, so errors and help are complete.
 */
export function cliFor(argv: readonly string[]): CocoonCli {
  const words = argv.slice(0, argv.findIndex((a) => a.startsWith('-')) >>> 0);
  const match = COMMANDS.find((c) => c.paths?.some((p) => p.length > 0 && p.every((w, i) => words[i] === w)));
  const cli = createCli('cocoon', 'lightweight microVM engine');
  for (const command of match ? [match] : COMMANDS) cli.register(command);
  return cli;
}

