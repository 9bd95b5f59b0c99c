import { Command, Option } from 'clipanion';
import { CocoonCommand } from '@cocoon/common/cli';
import { UsageError } from '@cocoon/common/errors';
import { validateVmName } from '@cocoon/common/refs';
import type { VmRecord } from '@cocoon/common/schemas/vm';

const MIN_MEMORY = 64 * 2 ** 20;
const MIN_STORAGE = 64 * 2 ** 20;

/** Options shared by `vm create` and `vm run`. */
export abstract class VmCreateBase extends CocoonCommand {
  name = Option.String('--name,-n', { description: 'VM name (a DNS label; becomes the guest hostname); default vm-<id>' });
  cpu = Option.String('--cpu,-c', '2', { description: 'number of vCPUs' });
  memory = Option.String('--memory,-m', '1G', { description: 'guest memory, e.g. 512M or 2G' });
  storage = Option.String('--storage,-s', '10G', { description: 'size of the writable COW disk, e.g. 10G' });
  nics = Option.String('--nics', '0', { description: 'number of network interfaces (0 until networking lands)' });
  hypervisor = Option.String('--hypervisor', { description: 'qemu, cloud-hypervisor (ch) or firecracker (fc)' });
  accel = Option.String('--accel', { description: 'kvm, tcg or auto (KVM only where it runs a stock guest)' });
  format = Option.String('--format,-f', { description: 'output: id (default) or json (the VM record)' });
  image = Option.String({ name: 'IMAGE' });

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
    const cpu = Number(this.cpu);
    if (!Number.isInteger(cpu) || cpu < 1 || cpu > 255) throw new UsageError(`--cpu: "${this.cpu}" must be a whole number from 1 to 255`);
    const nics = Number(this.nics);
    if (!Number.isInteger(nics) || nics < 0) throw new UsageError(`--nics: "${this.nics}" must be a whole number ≥ 0`);
    if (nics > 0) throw new UsageError('--nics: networking is not available in this build yet; use --nics 0');
    const memory = parseSize(this.memory, '--memory', MIN_MEMORY);
    const storage = parseSize(this.storage, '--storage', MIN_STORAGE);
    const accelFlag = AccelSchema.safeParse(this.accel ?? this.config.accel);
    if (!accelFlag.success) throw new UsageError(`--accel: "${this.accel}" is not one of auto, kvm, tcg`);
    if (this.format !== undefined && this.format !== 'json' && this.format !== 'id') throw new UsageError(`--format: "${this.format}" is not one of id, json`);
    if (this.name !== undefined) validateVmName(this.name);
    const hypervisor = this.hypervisor ? parseHypervisor(this.hypervisor) : defaultHypervisor(this.config.default_hypervisor);
    const image = await resolveVmImage(this.layout, this.image);
    const accel = chooseAccel(accelFlag.data);
    if (accel.warning) this.context.stderr.write(`${this.context.tool}: warning: ${accel.warning}\n`);
    return createVm(this.layout, { name: this.name, image, imageRef: this.image, cpu, memory, storage, nics, hypervisor, accel: accel.accel });
  }

  protected print(vm: VmRecord): void {
    if (this.format === 'json') this.writeJson(vm);
    else this.context.stdout.write(`${vm.id}\n`);
  }
}

export class VmCreateCommand extends VmCreateBase {
  static override paths = [['vm', 'create']];
  static override usage = Command.Usage({
    category: 'VM',
    description: 'create a VM from an image without starting it',
    details: 'Makes the VM record and its sparse COW disk. Prints the new VM ID (or the record with `--format json`).',
    examples: [
      ['Create a VM from the default guest', '$0 vm create --name web default'],
      ['Two vCPUs, 2 GiB of memory, a 20 GiB disk', '$0 vm create -c 2 -m 2G -s 20G default'],
    ],
  });

  override async execute(): Promise<number> {
    this.print(await this.createFromFlags());
    return 0;
  }
}
