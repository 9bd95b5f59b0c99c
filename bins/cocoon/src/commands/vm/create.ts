import { Command, Option } from 'clipanion';
import { chooseFormat, CocoonCommand, formatOption, outputOption } from '@cocoon/common/cli';
import { UsageError } from '@cocoon/common/errors';
import { validateVmName } from '@cocoon/common/refs';
import type { VmRecord } from '@cocoon/common/schemas/vm';

const MIN_MEMORY = 128 * 2 ** 20;
const MIN_STORAGE = 64 * 2 ** 20;

/** What `vm create/run` print: the VM ID (default; `table` is the Go cocoon's name for it) or the record. */
export type CreateOutput = 'id' | 'table' | 'json';

/** Options shared by `vm create` and `vm run` (the Go cocoon's flags, same names and defaults). */
export abstract class VmCreateBase extends CocoonCommand {
  name = Option.String('--name,-n', { description: 'VM name (letters, digits, ".", "_", "-"; the guest hostname derives from it); default vm-<id>' });
  cpu = Option.String('--cpu,-c', '2', { description: 'number of vCPUs' });
  memory = Option.String('--memory,-m', '1G', { description: 'guest memory: bytes, 512M, 2G or 256Mi' });
  storage = Option.String('--storage,-s', '10G', { description: 'size of the writable COW disk: bytes, 10G or 20Gi' });
  nics = Option.String('--nics', '1', { description: 'number of network interfaces (0: no network)' });
  network = Option.String('--network', { description: 'CNI conflist name (default: the first conflist in --cni-conf-dir by file name)' });
  bridge = Option.String('--bridge', { description: 'put the NICs on this host bridge instead of CNI (the guest uses DHCP)' });
  publish = Option.Array('--publish,-p', [], { description: 'publish a guest port: [IP:]HOST:GUEST[/tcp|udp] (repeatable; needs the portmap plugin in the conflist)' });
  egress = Option.String('--egress', { description: 'egress policy: deny (the guest reaches only --egress-rule destinations) or allow (all but them)' });
  egressRule = Option.Array('--egress-rule', [], { description: 'egress rule: CIDR[:PORT[/tcp|udp]] (repeatable)' });
  user = Option.String('--user', 'root', { description: 'cloud images: the user cloud-init sets the password of' });
  password = Option.String('--password', 'cocoon', { description: 'cloud images: that user\'s password (only its hash reaches the guest\'s seed)' });
  hypervisor = Option.String('--hypervisor', { description: 'qemu, cloud-hypervisor (ch) or firecracker (fc)' });
  fc = Option.Boolean('--fc', false, { description: 'use Firecracker (same as --hypervisor firecracker; OCI images only)' });
  accel = Option.String('--accel', { description: 'kvm, tcg or auto (KVM only where it runs a stock guest)' });
  noDirectIo = Option.Boolean('--no-direct-io', false, { description: 'writable disks use the page cache instead of O_DIRECT' });
  windows = Option.Boolean('--windows', false, { description: 'Windows guest: UEFI, Hyper-V enlightenments, no cidata' });
  format = formatOption('output: id (default) or json (the VM record)');
  output = outputOption();
  image = Option.String({ name: 'IMAGE' });

  /** The output asked for (validated before anything is made). */
  protected outputFormat(): CreateOutput {
    return chooseFormat(this.format, this.output, ['id', 'table', 'json'] as const, 'id');
  }

  /** Validates the flags, resolves the image and creates the VM. */
  protected async createFromFlags(): Promise<VmRecord> {
    const [{ chooseAccel }, { defaultHypervisor, parseHypervisor }, { AccelSchema }, { parseSize }, { resolveVmImage }, { createVm }] = await Promise.all([
      import('@cocoon/common/hypervisor/accel'),
      import('@cocoon/common/hypervisor/drivers'),
      import('@cocoon/common/schemas/config'),
      import('@cocoon/common/units'),
      import('../../vm/image.ts'),
      import('../../vm/lifecycle.ts'),
    ]);
    const { parseNetFlags } = await import('../../vm/network.ts');
    const cpu = Number(this.cpu);
    if (!Number.isInteger(cpu) || cpu < 1 || cpu > 255) throw new UsageError(`--cpu: "${this.cpu}" is out of range (a whole number from 1 to 255)`);
    const flags = { nics: this.nics, network: this.network, bridge: this.bridge, publish: this.publish, egress: this.egress, egressRules: this.egressRule };
    if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(this.user)) throw new UsageError(`--user: "${this.user}" is not a valid user name (lowercase letters, digits, "_", "-"; at most 32)`);
    if (this.windows) throw new UsageError('--windows: Windows guests are not supported on this build yet');
    const memory = parseSize(this.memory, '--memory', MIN_MEMORY);
    const storage = parseSize(this.storage, '--storage', MIN_STORAGE);
    const accelFlag = AccelSchema.safeParse(this.accel ?? this.config.accel);
    if (!accelFlag.success) throw new UsageError(`--accel: "${this.accel}" is not one of auto, kvm, tcg`);
    this.outputFormat();
    if (this.name !== undefined) validateVmName(this.name);
    const asked = this.fc ? 'firecracker' : this.hypervisor;
    if (this.fc && this.hypervisor !== undefined && parseHypervisor(this.hypervisor) !== 'firecracker') {
      throw new UsageError(`--fc and --hypervisor ${this.hypervisor} disagree: give one of them`);
    }
    const hypervisor = asked ? parseHypervisor(asked) : defaultHypervisor(this.config.default_hypervisor);
    const net = parseNetFlags(flags, this.layout);
    const image = await resolveVmImage(this.layout, this.image);
    const accel = chooseAccel(accelFlag.data);
    if (accel.warning) this.context.stderr.write(`${this.context.tool}: warning: ${accel.warning}\n`);
    return createVm(this.layout, {
      name: this.name,
      image,
      imageRef: this.image,
      cpu,
      memory,
      storage,
      net,
      dns: this.config.dns,
      login: { user: this.user, password: this.password },
      hypervisor,
      accel: accel.accel,
      extra: this.noDirectIo ? { no_direct_io: true } : {},
    });
  }

  /** Prints the VM as asked: its ID, or the record (the Go cocoon's `-o json`). */
  protected async print(vm: VmRecord): Promise<void> {
    if (this.outputFormat() !== 'json') {
      this.context.stdout.write(`${vm.id}\n`);
      return;
    }
    const { withLiveState } = await import('../../vm/state.ts');
    this.writeJson(withLiveState(this.layout, vm));
  }
}

export class VmCreateCommand extends VmCreateBase {
  static override paths = [['vm', 'create']];
  static override usage = Command.Usage({
    category: 'VM',
    description: 'create a VM from an image without starting it',
    details: 'Makes the VM record and its sparse COW disk. Prints the new VM ID, or the VM record with `-o json` (the shape `vm inspect` prints).',
    examples: [
      ['Create a VM from the default guest', '$0 vm create --name web default'],
      ['Two vCPUs, 2 GiB of memory, a 20 GiB disk', '$0 vm create -c 2 -m 2G -s 20G default'],
      ['Sizes as Kubernetes quantities, record as JSON', '$0 vm create --memory 256Mi --storage 1Gi -o json default'],
      ['No network at all', '$0 vm create --nics 0 default'],
      ['Two NICs, port 8080 of the host to 80 of the guest', '$0 vm create --nics 2 -p 8080:80 default'],
      ['A sandbox that reaches only a mirror and its DNS server', '$0 vm create --egress deny --egress-rule 10.0.0.5:443/tcp --egress-rule 10.0.0.53:53 default'],
      ['On an existing host bridge, address by DHCP', '$0 vm create --bridge br0 default'],
    ],
  });

  override async execute(): Promise<number> {
    await this.print(await this.createFromFlags());
    return 0;
  }
}
