import { createCli } from '@cocoon/common/cli';
import { AddCommand } from './commands/add.ts';
import { CheckCommand } from './commands/check.ts';
import { DelCommand } from './commands/del.ts';
import { InspectCommand } from './commands/inspect.ts';
import { ListCommand } from './commands/list.ts';

/** cocoon-net: VM networks (CNI into per-VM netns, TAP + TC redirect, bridge mode), one command per file under commands/. */
export const cli = createCli('cocoon-net', 'wire VMs into CNI networks: per-VM netns, TAP devices, TC redirect, bridge mode');
for (const command of [AddCommand, DelCommand, CheckCommand, ListCommand, InspectCommand]) cli.register(command);
