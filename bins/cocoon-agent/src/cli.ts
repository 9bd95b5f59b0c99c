import { createCli } from '@cocoon/common/cli';
import { ClientCommand } from './commands/client.ts';
import { ConsoleRelayCommand } from './commands/console-relay.ts';
import { ServeCommand } from './commands/serve.ts';

/** cocoon-agent: the in-guest exec agent, its host client and the console relay of Firecracker VMs. */
export const cli = createCli('cocoon-agent', 'in-guest exec agent (serve), its host client and the Firecracker console relay');
cli.register(ServeCommand);
cli.register(ClientCommand);
cli.register(ConsoleRelayCommand);
