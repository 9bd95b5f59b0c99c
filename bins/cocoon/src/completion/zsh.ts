/**
 * The zsh completion script (`cocoon completion zsh`): the bash completion through zsh's
 * bashcompinit, which runs bash completion functions natively (one completion logic to
 * keep right, generated from the same definitions).
 */
import { bashScript } from './bash.ts';
import type { CompletionModel } from './spec.ts';

export function zshCompletion(model: CompletionModel): string {
  return [
    '#compdef cocoon',
    '(( $+functions[compdef] )) || { autoload -U compinit && compinit -u; }',
    'autoload -U +X bashcompinit && bashcompinit',
    bashScript(model, 'zsh').trimEnd(),
    'complete -F _cocoon cocoon',
    '',
  ].join('\n');
}
