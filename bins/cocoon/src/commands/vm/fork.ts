import { Command, Option } from 'clipanion';
import { chooseFormat, CocoonCommand, formatOption, outputOption } from '@cocoon/common/cli';
import { UsageError } from '@cocoon/common/errors';
import { parseSeconds } from '../../vm/flags.ts';

export class VmForkCommand extends CocoonCommand {
  static override paths = [['vm', 'fork']];
  static override usage = Command.Usage({
    category: 'VM',
    description: 'make running copies of a running VM (snapshot, clone, drop the snapshot)',
    details: 'Saves a temporary snapshot of the VM (it is paused only while its state is written, and resumed whatever happens), clones it `--count` times, and removes the snapshot. Each copy has its own ID, name, hostname, random seed and machine id. Prints the new VM IDs, or their records with `-o json`.',
    examples: [
      ['Fork VM web once', '$0 vm fork web'],
      ['Three copies named web-copy-1..3', '$0 vm fork --count 3 --name web-copy web'],
    ],
  });

  count = Option.String('--count', '1', { description: 'how many copies' });
  name = Option.String('--name,-n', { description: 'name of the copy (a prefix with --count); default cocoon-clone-<id>' });
  startTimeout = Option.String('--start-timeout', '120', { description: 'seconds for each copy to load the saved state' });
  format = formatOption('output: id (default) or json (the VM records)');
  output = outputOption();
  vm = Option.String({ name: 'VM' });

  override async execute(): Promise<number> {
    const format = chooseFormat(this.format, this.output, ['id', 'table', 'json'] as const, 'id');
    const count = Number(this.count);
    if (!Number.isInteger(count) || count < 1) throw new UsageError(`--count: "${this.count}" must be a whole number ≥ 1`);
    const { forkVm } = await import('../../vm/fork.ts');
    const vms = await forkVm(
      this.layout,
      { vm: this.vm, count, name: this.name, timeoutMs: parseSeconds(this.startTimeout, '--start-timeout'), warn: (t) => this.context.stderr.write(`${this.context.tool}: ${t}`) },
      this.context,
    );
    if (format !== 'json') for (const vm of vms) this.context.stdout.write(`${vm.id}\n`);
    else this.writeJson(count === 1 ? vms[0] : vms);
    return 0;
  }
}
