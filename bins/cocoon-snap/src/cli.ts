import { createCli } from '@cocoon/common/cli';
import { ExportCommand } from './commands/export.ts';
import { GuardCommand } from './commands/guard.ts';
import { ImportCommand } from './commands/import.ts';
import { InspectCommand } from './commands/inspect.ts';
import { ListCommand } from './commands/list.ts';
import { PullCommand } from './commands/pull.ts';
import { PushCommand } from './commands/push.ts';
import { RmCommand } from './commands/rm.ts';
import { SaveCommand } from './commands/save.ts';

/** cocoon-snap: snapshots, one command per file under commands/. */
export const cli = createCli('cocoon-snap', 'save, list, inspect, remove, export and import VM snapshots');
for (const command of [SaveCommand, ListCommand, InspectCommand, RmCommand, ExportCommand, ImportCommand, PushCommand, PullCommand, GuardCommand]) {
  cli.register(command);
}
