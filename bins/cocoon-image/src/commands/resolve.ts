import { Command, Option } from 'clipanion';
import { CocoonCommand, formatOption, outputOption, resolveFormat } from '@cocoon/common/cli';
import { resolveImage } from '@cocoon/common/images/resolve';

export class ResolveCommand extends CocoonCommand {
  static override paths = [['resolve']];
  static override usage = Command.Usage({
    category: 'Images',
    description: 'print what a VM needs from an image: disks, kernel, initrd, cmdline',
    details:
      'Prints an `ImageResolve` document: the layer disks (serials `cocoon-layer<j>`, bottom first, read-only, raw), absolute kernel/initrd paths, firmware and the command line fragments the image needs. This is the contract `cocoon vm create` reads.',
    examples: [['Resolve the default guest', '$0 resolve default --format json']],
  });

  format = formatOption();
  output = outputOption();
  ref = Option.String({ name: 'REF' });

  override async execute(): Promise<number> {
    // JSON is the only shape of this contract; `--format table` still prints JSON.
    resolveFormat(this.format, this.output, false);
    this.writeJson(await resolveImage(this.layout, this.ref));
    return 0;
  }
}
