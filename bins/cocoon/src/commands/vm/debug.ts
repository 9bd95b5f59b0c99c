import { Command, Option } from 'clipanion';
import { chooseFormat, CocoonCommand, formatOption, outputOption } from '@cocoon/common/cli';

export class VmDebugCommand extends CocoonCommand {
  static override paths = [['vm', 'debug']];
  static override usage = Command.Usage({
    category: 'VM',
    description: 'print the exact hypervisor command line that `vm start` would run',
    details: 'Shell-quoted on one line (copy it to launch the hypervisor by hand), or an argv array with `--format json`.',
    examples: [['Show the QEMU command of a VM', '$0 vm debug web'], ['As a JSON argv', '$0 vm debug --format json web']],
  });

  format = formatOption('shell (default) or json');
  output = outputOption();
  ref = Option.String({ name: 'VM' });

  override async execute(): Promise<number> {
    const format = chooseFormat(this.format, this.output, ['shell', 'json'] as const, 'shell');
    const [{ driverFor }, { vmIndex }, { launchSpec }] = await Promise.all([
      import('@cocoon/common/hypervisor/drivers'),
      import('@cocoon/common/vms'),
      import('../../vm/spec.ts'),
    ]);
    const vm = await vmIndex(this.layout).resolve(this.ref);
    const cmd = driverFor(vm.hypervisor).commandLine(launchSpec(this.layout, vm));
    if (format === 'json') this.writeJson([cmd.file, ...cmd.args]);
    else this.context.stdout.write(`${[cmd.file, ...cmd.args].map(shellQuote).join(' ')}\n`);
    return 0;
  }
}

/** Quotes one argument for a POSIX shell (for display only; cocoon never runs a shell string). */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=,@%+-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}
