import { createCli } from '@cocoon/common/cli';
import { ClientCommand } from './commands/client.ts';
import { ServeCommand } from './commands/serve.ts';

/** cocoon-agent: the in-guest exec agent and its host client. */
export const cli = createCli('cocoon-agent', 'in-guest exec agent (serve) and its host client');
cli.register(ServeCommand);
cli.register(ClientCommand);
