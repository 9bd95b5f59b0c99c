import { Command, Option } from 'clipanion';
import { chooseFormat, CocoonCommand, formatOption, outputOption } from '@cocoon/common/cli';
import { UsageError } from '@cocoon/common/errors';
import { parseSeconds } from '../../vm/flags.ts';

export class VmCloneCommand extends CocoonCommand {
  static override paths = [['vm', 'clone']];
  static override usage = Command.Usage({
    category: 'VM',
    description: 'start new VMs from a snapshot, each with a fresh ID, name and identity',
    details: [
      'Each clone gets its own copy of the snapshot\'s writable disks (a reflink where the filesystem shares extents, else a sparse copy) and resumes the saved machine where it was; the memory state file is read in place, never copied. The guest agent then gives it its own hostname, clock, random seed and machine id (without an agent, the commands to run by hand are printed).',
      'Resources default to the snapshot\'s and may only grow: `--storage` grows the writable disk; on QEMU more vCPUs, memory (in 128 MiB steps) and NICs are added live to the resumed machine, within the room its VM was launched with (`tuning.hotplug` in `vm inspect`). `--on-demand` (lazy memory loading) needs Cloud Hypervisor.',
      'Prints the new VM IDs, or with `-o json` the VM record (an array with `--count` > 1).',
    ].join('\n\n'),
    examples: [
      ['Clone snapshot base', '$0 vm clone base'],
      ['Three clones named pool-1..3, as JSON', '$0 vm clone --count 3 --name pool -o json base'],
      ['A bigger disk', '$0 vm clone --storage 20G base'],
      ['Two vCPUs, 1 GiB and a second NIC', '$0 vm clone --cpu 2 --memory 1G --nics 2 base'],
    ],
  });

  name = Option.String('--name,-n', { description: 'name of the clone (a prefix with --count); default cocoon-clone-<id>' });
  cpu = Option.String('--cpu,-c', { description: 'vCPUs (0 or absent: the snapshot\'s; may only grow)' });
  memory = Option.String('--memory,-m', { description: 'memory (absent: the snapshot\'s; may only grow)' });
  storage = Option.String('--storage,-s', { description: 'writable disk size (absent: the snapshot\'s; may only grow)' });
  nics = Option.String('--nics', { description: 'NICs (0 or absent: the snapshot\'s; may only grow)' });
  network = Option.String('--network', { description: 'CNI conflist name for the clone\'s NICs' });
  count = Option.String('--count', '1', { description: 'how many clones to make (concurrently where the host allows)' });
  noDirectIo = Option.Boolean('--no-direct-io', false, { description: 'writable disks use the page cache instead of O_DIRECT' });
  pull = Option.Boolean('--pull', false, { description: 'pull the snapshot\'s image by its recorded digest when it is missing' });
  onDemand = Option.Boolean('--on-demand', false, { description: 'load memory lazily (Cloud Hypervisor only)' });
  startTimeout = Option.String('--start-timeout', '120', { description: 'seconds for the hypervisor to load the saved state' });
  format = formatOption('output: id (default) or json (the VM record)');
  output = outputOption();
  snapshot = Option.String({ name: 'SNAPSHOT' });

  override async execute(): Promise<number> {
    const format = chooseFormat(this.format, this.output, ['id', 'table', 'json'] as const, 'id');
    const { parseSize } = await import('@cocoon/common/units');
    const whole = (flag: string, v: string | undefined): number | undefined => {
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${flag}: "${v}" must be a whole number ≥ 0`);
      return n;
    };
    const count = whole('count', this.count) ?? 1;
    if (count < 1) throw new UsageError('--count: make at least one clone');
    const [{ cloneVms }, { runTool }] = await Promise.all([import('../../vm/clone.ts'), import('../../vm/run-tool.ts')]);
    const vms = await cloneVms(this.layout, {
      snapshot: this.snapshot,
      name: this.name,
      cpu: whole('cpu', this.cpu),
      memory: this.memory === undefined ? undefined : parseSize(this.memory, '--memory', 0),
      storage: this.storage === undefined ? undefined : parseSize(this.storage, '--storage', 0),
      nics: whole('nics', this.nics),
      count,
      noDirectIo: this.noDirectIo,
      pull: this.pull,
      onDemand: this.onDemand,
      timeoutMs: parseSeconds(this.startTimeout, '--start-timeout'),
      pullImage: async (ref) => void (await runTool('cocoon-image', ['pull', ref], this.context)),
      warn: (text) => this.context.stderr.write(`${this.context.tool}: ${text}`),
      network: this.network,
      dns: this.config.dns,
    });
    if (format !== 'json') for (const vm of vms) this.context.stdout.write(`${vm.id}\n`);
    else this.writeJson(count === 1 ? vms[0] : vms);
    return 0;
  }
}
