import { createCli } from '@cocoon/common/cli';
import { ClientCommand } from './commands/client.ts';
import { ConsoleRelayCommand } from './commands/console-relay.ts';
import { RelayCommand } from './commands/relay.ts';
import { ServeCommand } from './commands/serve.ts';

/** cocoon-agent: the in-guest exec agent, its host client and the QEMU serial relay. */
export const cli = createCli('cocoon-agent', 'in-guest exec agent (serve), its host client and the QEMU serial relay');
cli.register(ServeCommand);
cli.register(ClientCommand);
cli.register(RelayCommand);
cli.register(ConsoleRelayCommand);
