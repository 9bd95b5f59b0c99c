import { Command, Option } from 'clipanion';
import type { CocoonContext } from '@cocoon/common/cli';
import { UsageError } from '@cocoon/common/errors';

const SHELLS = ['bash', 'zsh', 'fish'] as const;

export class CompletionCommand extends Command<CocoonContext> {
  static override paths = [['completion']];
  static override usage = Command.Usage({
    description: 'print the shell completion script for bash, zsh or fish',
    details: [
      'Generated from the command definitions of every tool (`cocoon vm …`, `cocoon image …`, `cocoon snapshot …`, `cocoon gc` …): commands, aliases, options and arguments. VM, image and snapshot names are completed from the indexes when you press Tab (honouring `--root-dir` and the other global flags on the line).',
      'Load it in the current shell, or install it where your shell looks for completions.',
    ].join('\n\n'),
    examples: [
      ['Bash, this shell', 'source <($0 completion bash)'],
      ['Bash, every shell', '$0 completion bash > /etc/bash_completion.d/cocoon'],
      ['Zsh', '$0 completion zsh > "${fpath[1]}/_cocoon"'],
      ['Fish', '$0 completion fish > ~/.config/fish/completions/cocoon.fish'],
    ],
  });

  shell = Option.String({ name: 'SHELL' });

  override async execute(): Promise<number> {
    if (!(SHELLS as readonly string[]).includes(this.shell)) throw new UsageError(`completion: "${this.shell}" is not one of ${SHELLS.join(', ')}`);
    const { completionModel } = await import('../completion/spec.ts');
    const model = await completionModel();
    if (this.shell === 'bash') this.context.stdout.write((await import('../completion/bash.ts')).bashCompletion(model));
    else if (this.shell === 'zsh') this.context.stdout.write((await import('../completion/zsh.ts')).zshCompletion(model));
    else this.context.stdout.write((await import('../completion/fish.ts')).fishCompletion(model));
    return 0;
  }
}

/** `cocoon __complete vm|image|snapshot`: names for the completion scripts (hidden: no usage). */
export class CompleteNamesCommand extends Command<CocoonContext> {
  static override paths = [['__complete']];
  kind = Option.String();

  override async execute(): Promise<number> {
    if (this.kind !== 'vm' && this.kind !== 'image' && this.kind !== 'snapshot') throw new UsageError(`__complete: "${this.kind}" is not vm, image or snapshot`);
    const [{ resolveConfig }, { layoutOf }, { completionNames }] = await Promise.all([import('@cocoon/common/config'), import('@cocoon/common/layout'), import('../completion/names.ts')]);
    const names = completionNames(layoutOf(resolveConfig(this.context.globals, this.context.env)), this.kind);
    if (names.length) this.context.stdout.write(`${names.join('\n')}\n`);
    return 0;
  }
}
