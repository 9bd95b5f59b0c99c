import { createCli } from '@cocoon/common/cli';
import { BuildDefaultCommand } from './commands/build-default.ts';
import { ImportCommand } from './commands/import.ts';
import { InspectCommand } from './commands/inspect.ts';
import { ListCommand } from './commands/list.ts';
import { PullCommand } from './commands/pull.ts';
import { ResolveCommand } from './commands/resolve.ts';
import { RmCommand } from './commands/rm.ts';

/** cocoon-image: images and the blob store, one command per file under commands/. */
export const cli = createCli('cocoon-image', 'pull, import, list, inspect and remove VM images');
for (const command of [PullCommand, ImportCommand, ListCommand, InspectCommand, RmCommand, ResolveCommand, BuildDefaultCommand]) {
  cli.register(command);
}
