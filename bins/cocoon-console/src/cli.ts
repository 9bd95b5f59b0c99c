import { createCli } from '@cocoon/common/cli';
import { ConsoleAttachCommand } from './commands/attach.ts';

/** cocoon-console: attach to a VM's serial console (`cocoon vm console VM`). */
export const cli = createCli('cocoon-console', 'attach to a VM console: raw TTY, escape sequences, resize');
cli.register(ConsoleAttachCommand);
