import { Command, Option } from 'clipanion';
import { chooseFormat, CocoonCommand, formatOption, outputOption } from '@cocoon/common/cli';
import { UsageError } from '@cocoon/common/errors';
import { parseSeconds } from '../../vm/flags.ts';

export class VmRestoreCommand extends CocoonCommand {
  static override paths = [['vm', 'restore']];
  static override usage = Command.Usage({
    category: 'VM',
    description: 'rewind a running VM to one of its own snapshots, in place',
    details: 'The VM keeps its ID, name, disks\' paths and network. The snapshot is checked first (every file against its digest, its disks against the VM\'s, resources only grow) and its disks are staged beside the live ones while the VM runs on: a missing, truncated or corrupt snapshot leaves the VM untouched. Then the hypervisor is replaced by one loaded from the snapshot, more vCPUs and memory (`--cpu`, `--memory`) are added live where its launch left room, and the guest\'s random generator is reseeded.',
    examples: [['Rewind VM web to snapshot web-1', '$0 vm restore web web-1']],
  });

  cpu = Option.String('--cpu,-c', { description: 'vCPUs (absent: the snapshot\'s; may only grow)' });
  memory = Option.String('--memory,-m', { description: 'memory (absent: the snapshot\'s; may only grow)' });
  storage = Option.String('--storage,-s', { description: 'writable disk size (absent: the snapshot\'s; may only grow)' });
  startTimeout = Option.String('--start-timeout', '120', { description: 'seconds for the hypervisor to load the saved state' });
  format = formatOption('output: id (default) or json (the VM record)');
  output = outputOption();
  vm = Option.String({ name: 'VM' });
  snapshot = Option.String({ name: 'SNAPSHOT' });

  override async execute(): Promise<number> {
    const format = chooseFormat(this.format, this.output, ['id', 'table', 'json'] as const, 'id');
    const { parseSize } = await import('@cocoon/common/units');
    const cpu = this.cpu === undefined ? undefined : Number(this.cpu);
    if (cpu !== undefined && (!Number.isInteger(cpu) || cpu < 0)) throw new UsageError(`--cpu: "${this.cpu}" must be a whole number ≥ 0`);
    const asked = {
      cpu,
      memory: this.memory === undefined ? undefined : parseSize(this.memory, '--memory', 0),
      storage: this.storage === undefined ? undefined : parseSize(this.storage, '--storage', 0),
    };
    const { restoreVm } = await import('../../vm/restore.ts');
    const { vm, hint } = await restoreVm(this.layout, this.vm, this.snapshot, asked, parseSeconds(this.startTimeout, '--start-timeout'));
    if (hint) this.context.stderr.write(`${this.context.tool}: ${hint}`);
    if (format === 'json') this.writeJson(vm);
    else this.context.stdout.write(`${vm.id}\n`);
    return 0;
  }
}
