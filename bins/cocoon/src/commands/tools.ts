/**
 * `cocoon <noun> …` for the nouns other tools own (table in routes.ts). main.ts
 * dispatches these before the parser runs; registering them puts them in
 * `cocoon --help`, and dispatches any argv that still reaches the parser.
 */
import { Command, Option } from 'clipanion';
import type { CocoonContext } from '@cocoon/common/cli';
import { TOOL_NOUNS } from '../routes.ts';

/** One proxy command per tool noun. */
export const TOOL_COMMANDS = TOOL_NOUNS.map(
  (noun) =>
    class extends Command<CocoonContext> {
      static override paths = noun.paths;
      static override usage = Command.Usage({ category: 'Tools', description: noun.description, examples: [noun.example] });
      args = Option.Proxy();
      override async execute(): Promise<number> {
        const { dispatch } = await import('../dispatch.ts');
        return dispatch(noun.tool, this.args, this.context.globals);
      }
    },
);
