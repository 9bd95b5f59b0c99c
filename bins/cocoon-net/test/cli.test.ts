import { it } from 'node:test';
import { assertPlannedTool } from '@cocoon/common/testing/cli';
import { cli } from '../src/cli.ts';

it('cocoon-net documents its planned commands and does not pretend to work', () => assertPlannedTool(cli, 'cocoon-net'));
