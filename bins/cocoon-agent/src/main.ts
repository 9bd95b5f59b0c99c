import { main } from '@cocoon/common/cli';
import { cli } from './cli.ts';

main(cli, 'cocoon-agent');
