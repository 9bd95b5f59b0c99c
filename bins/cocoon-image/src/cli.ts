import { createCli } from '@cocoon/common/cli';

/** cocoon-image: images and the blob store. Commands are registered below, one file each. */
export const cli = createCli('cocoon-image', 'pull, import, list, inspect and remove VM images');
import { ImportCommand } from './commands/import.ts';
import { ListCommand } from './commands/list.ts';
import { InspectCommand } from './commands/inspect.ts';
import { RmCommand } from './commands/rm.ts';
import { ResolveCommand } from './commands/resolve.ts';
for (const command of [ImportCommand, ListCommand, InspectCommand, RmCommand, ResolveCommand]) cli.register(command);
import { PullCommand } from './commands/pull.ts';
cli.register(PullCommand);
import { BuildDefaultCommand } from './commands/build-default.ts';
cli.register(BuildDefaultCommand);
