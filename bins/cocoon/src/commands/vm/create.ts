import { Command, Option } from 'clipanion';
import { chooseFormat, CocoonCommand, formatOption, outputOption } from '@cocoon/common/cli';
import { existsSync } from 'node:fs';
import { MissingDependencyError, UsageError } from '@cocoon/common/errors';
import { hostProbe, type AccelChoice } from '@cocoon/common/hypervisor/accel';
import { validateVmName } from '@cocoon/common/refs';
import type { HypervisorKind } from '@cocoon/common/schemas/config';
import type { ImageResolve } from '@cocoon/common/schemas/image';
import type { VmRecord } from '@cocoon/common/schemas/vm';
import type { CreateRequest } from '../../vm/lifecycle.ts';

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
  hypervisor = Option.String('--hypervisor', { description: 'qemu, cloud-hypervisor (ch) or firecracker (fc)' });
  fc = Option.Boolean('--fc', false, { description: 'use Firecracker (same as --hypervisor firecracker; OCI images only)' });
  accel = Option.String('--accel', { description: 'kvm, tcg or auto (KVM only where it runs a stock guest)' });
  noDirectIo = Option.Boolean('--no-direct-io', false, { description: 'writable disks use the page cache instead of O_DIRECT' });
  windows = Option.Boolean('--windows', false, { description: 'Windows guest (cloud images): UEFI, Hyper-V enlightenments, no cidata, no balloon' });
  force = Option.Boolean('--force', false, { description: 'allow more memory than the host has, or a disk bigger than its filesystem' });
  dataDisk = Option.Array('--data-disk', [], { description: 'extra disk: size=20G[,name=N][,fstype=ext4|none][,mount=/mnt/x][,directio=on|off|auto]; repeatable' });
  queueSize = Option.String('--queue-size', { description: 'virtio-net ring depth per queue (default 512)' });
  diskQueueSize = Option.String('--disk-queue-size', { description: 'virtio-blk ring depth per queue (default 512)' });
  user = Option.String('--user', 'root', { description: 'cloud images: the login user cloud-init sets up (a sudoer unless root)' });
  password = Option.String('--password', 'cocoon', { description: 'cloud images: its password (stored only as a SHA-512 crypt hash in the seed)' });
  format = formatOption('output: id (default) or json (the VM record)');
  output = outputOption();
  image = Option.String({ name: 'IMAGE' });

  /** The output asked for (validated before anything is made). */
  protected outputFormat(): CreateOutput {
    return chooseFormat(this.format, this.output, ['id', 'table', 'json'] as const, 'id');
  }

  /** Validates the flags, resolves the image and creates the VM (and starts it, given `startTimeoutMs`). */
  protected async createFromFlags(startTimeoutMs?: number): Promise<VmRecord> {
    const [{ createVm }, req] = await Promise.all([import('../../vm/lifecycle.ts'), this.createRequest()]);
    return createVm(this.layout, req, startTimeoutMs);
  }

  /** Validates the flags and resolves the image into what a create needs (nothing is made). */
  protected async createRequest(): Promise<CreateRequest> {
    const [{ chooseAccel }, { defaultHypervisor, parseHypervisor }, { AccelSchema }, { parseSize }, { resolveVmImage }, { checkHostCpu, parseQueueSize }, { parseDataDisks }, { parseNetFlags }, { checkHostLimits }] = await Promise.all([
      import('@cocoon/common/hypervisor/accel'),
      import('@cocoon/common/hypervisor/drivers'),
      import('@cocoon/common/schemas/config'),
      import('@cocoon/common/units'),
      import('../../vm/image.ts'),
      import('@cocoon/common/hypervisor/tuning'),
      import('../../vm/data-disks.ts'),
      import('../../vm/network.ts'),
      import('../../vm/limits.ts'),
    ]);
    const cpu = Number(this.cpu);
    if (!Number.isInteger(cpu) || cpu < 1 || cpu > 255) throw new UsageError(`--cpu: "${this.cpu}" is out of range (a whole number from 1 to 255)`);
    checkHostCpu(cpu);
    const memory = parseSize(this.memory, '--memory', MIN_MEMORY);
    const storage = parseSize(this.storage, '--storage', MIN_STORAGE);
    checkHostLimits({ memory, storage, runDir: this.layout.run, force: this.force });
    const accelFlag = AccelSchema.safeParse(this.accel ?? this.config.accel);
    if (!accelFlag.success) throw new UsageError(`--accel: "${this.accel}" is not one of auto, kvm, tcg`);
    this.outputFormat();
    if (this.name !== undefined) validateVmName(this.name);
    const asked = this.fc ? 'firecracker' : this.hypervisor;
    if (this.fc && this.hypervisor !== undefined && parseHypervisor(this.hypervisor) !== 'firecracker') {
      throw new UsageError(`--fc and --hypervisor ${this.hypervisor} disagree: give one of them`);
    }
    const accel = chooseAccel(accelFlag.data);
    const hypervisor = asked ? parseHypervisor(asked) : defaultHypervisor(this.config.default_hypervisor, accel.accel);
    const dataDisks = parseDataDisks(this.dataDisk);
    const queueSize = this.queueSize === undefined ? undefined : parseQueueSize(this.queueSize, '--queue-size');
    const diskQueueSize = this.diskQueueSize === undefined ? undefined : parseQueueSize(this.diskQueueSize, '--disk-queue-size');
    if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(this.user)) throw new UsageError(`--user: "${this.user}" is not a valid user name (a-z, 0-9, _ and -, at most 32)`);
    if (this.password === '' || /[\n\r]/.test(this.password)) throw new UsageError('--password: must be non-empty and one line');
    if (this.windows && hypervisor === 'firecracker') throw new UsageError('--windows: Firecracker cannot boot Windows (no UEFI); use --hypervisor cloud-hypervisor or qemu');
    // Before the image: a missing conflist says to run cocoon-doctor check --fix or pass --nics 0.
    const net = parseNetFlags({ nics: this.nics, network: this.network, bridge: this.bridge, publish: this.publish, egress: this.egress, egressRules: this.egressRule }, this.layout);
    const image = await resolveVmImage(this.layout, this.image);
    checkImageFits(image, hypervisor, this.windows);
    const firmware = hypervisor === 'cloud-hypervisor' && image.kind === 'cloud' ? chFirmware(this.config.ch_firmware) : image.firmware;
    const run = hypervisorAccel(hypervisor, accel);
    if (run.warning) this.context.stderr.write(`${this.context.tool}: warning: ${run.warning}\n`);
    return {
      name: this.name,
      image: { ...image, firmware },
      imageRef: this.image,
      cpu,
      memory,
      storage,
      nics: net.nics,
      net,
      hypervisor,
      accel: run.accel,
      extra: {
        ...(this.noDirectIo ? { no_direct_io: true } : {}),
        ...(this.windows ? { windows: true } : {}),
        ...(queueSize === undefined ? {} : { queue_size: queueSize }),
        ...(diskQueueSize === undefined ? {} : { disk_queue_size: diskQueueSize }),
      },
      dataDisks,
      login: { user: this.user, password: this.password },
      dns: this.config.dns,
    };
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

/** Refuses what the chosen hypervisor cannot boot: Firecracker takes OCI images only; Windows needs UEFI. */
export function checkImageFits(image: ImageResolve, hypervisor: HypervisorKind, windows: boolean): void {
  if (hypervisor === 'firecracker' && (image.kind === 'cloud' || image.disks.some((d) => d.format === 'qcow2'))) {
    throw new UsageError(`--fc: Firecracker boots OCI images only; "${image.name}" is a cloud image (qcow2, UEFI): use --hypervisor cloud-hypervisor or qemu`);
  }
  if (windows && image.kind !== 'cloud') throw new UsageError(`--windows: "${image.name}" is an OCI image (direct kernel boot); Windows needs a cloud image booted through UEFI`);
}

/** Cloud Hypervisor's UEFI firmware must exist before a cloud-image VM is made for it. */
function chFirmware(path: string): string {
  if (!existsSync(path)) throw new MissingDependencyError(`Cloud Hypervisor firmware ${path} not found: install the Debian package cloudhv-efi-x86-64 (sid) or set ch_firmware in the config`);
  return path;
}

/** Cloud Hypervisor and Firecracker run only on KVM; QEMU takes the choice as made. */
function hypervisorAccel(hypervisor: HypervisorKind, choice: AccelChoice): AccelChoice {
  if (hypervisor === 'qemu') return choice;
  if (!hostProbe.kvmUsable()) throw new MissingDependencyError(`${hypervisor} needs /dev/kvm, which is missing or not usable here; use --hypervisor qemu`);
  return {
    accel: 'kvm',
    warning: hostProbe.pvmHost() ? `KVM here is the PVM module: ${hypervisor} boots only PVM-enabled guest kernels on it` : null,
  };
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
