import { createCli } from '@cocoon/common/cli';
import { VersionCommand } from './commands/version.ts';
import { VmCreateCommand } from './commands/vm/create.ts';
import { VmDebugCommand } from './commands/vm/debug.ts';
import { VmExecCommand } from './commands/vm/exec.ts';
import { VmInspectCommand } from './commands/vm/inspect.ts';
import { VmListCommand } from './commands/vm/list.ts';
import { VmRmCommand } from './commands/vm/rm.ts';
import { VmRunCommand } from './commands/vm/run.ts';
import { VmStartCommand } from './commands/vm/start.ts';
import { VmStopCommand } from './commands/vm/stop.ts';

/** cocoon: the front end. VM lifecycle commands live here; other nouns dispatch to cocoon-<sub>. */
export const cli = createCli('cocoon', 'lightweight microVM engine');
for (const command of [VersionCommand, VmCreateCommand, VmRunCommand, VmStartCommand, VmStopCommand, VmListCommand, VmInspectCommand, VmRmCommand, VmDebugCommand, VmExecCommand]) {
  cli.register(command);
}
