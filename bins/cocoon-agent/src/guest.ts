/**
 * Entry of the guest agent's own executable (`dist/agent/cocoon-agent`, baked into guest
 * images): `serve` only, so the executable carries none of the host tools' code. The
 * host's `cocoon-agent` (the multi-call executable) keeps `serve` and `client`.
 */
import { createCli, main } from '@cocoon/common/cli';
import { ServeCommand } from './commands/serve.ts';

const cli = createCli('cocoon-agent', 'in-guest exec agent');
cli.register(ServeCommand);
main(cli, 'cocoon-agent');
