import { Command } from 'clipanion';
import { chooseFormat } from '@cocoon/common/cli';
import { NotFoundError } from '@cocoon/common/errors';
import type { LaunchPlan } from '@cocoon/common/hypervisor/index';
import { VmCreateBase, type CreateOutput } from './create.ts';

export class VmDebugCommand extends VmCreateBase {
  static override paths = [['vm', 'debug']];
  static override usage = Command.Usage({
    category: 'VM',
    description: 'print the exact launch that `vm start` runs: for a VM, or for a new VM of an IMAGE (nothing is created)',
    details:
      'With a VM: its launch. Otherwise the argument is an image and the create flags apply: the launch a new VM with those flags would get (the Go cocoon\'s `vm debug [flags] IMAGE`); nothing is written. Printed by the same code `start` launches with: the hypervisor command line shell-quoted, then (Firecracker) every API call of the boot sequence as a curl line. `--format json` prints the argv; `--format plan` the command and the API calls as JSON.',
    examples: [
      ['Show the launch of a VM', '$0 vm debug web'],
      ['What a 4-vCPU Cloud Hypervisor VM of the default image would run', '$0 vm debug --hypervisor ch --cpu 2 --data-disk size=1G default'],
      ['As a JSON argv', '$0 vm debug --format json web'],
      ['Firecracker\'s boot sequence as JSON', '$0 vm debug --fc --format plan default'],
    ],
  });

  /** `vm debug` has its own formats (shell, json, plan: checked in `execute`); create's do not apply. */
  protected override outputFormat(): CreateOutput {
    return 'json';
  }

  override async execute(): Promise<number> {
    const format = chooseFormat(this.format, this.output, ['shell', 'json', 'plan'] as const, 'shell');
    const [{ driverFor }, { vmIndex }, { launchSpec }, { planVm, plannedGuestCid }, { curlLine }] = await Promise.all([
      import('@cocoon/common/hypervisor/drivers'),
      import('@cocoon/common/vms'),
      import('../../vm/spec.ts'),
      import('../../vm/lifecycle.ts'),
      import('@cocoon/common/hypervisor/firecracker/requests'),
    ]);
    let vm;
    try {
      vm = await vmIndex(this.layout).resolve(this.image);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      vm = planVm(this.layout, await this.createRequest());
      // The vsock device (the agent's channel) is part of the launch a new VM gets.
      const cid = await plannedGuestCid(this.layout, vm.hypervisor);
      if (cid !== undefined) vm.vsock_cid = cid;
    }
    const plan: LaunchPlan = driverFor(vm.hypervisor).launchPlan(launchSpec(this.layout, vm));
    const argv = [plan.command.file, ...plan.command.args];
    if (format === 'json') this.writeJson(argv);
    else if (format === 'plan') this.writeJson({ hypervisor: vm.hypervisor, argv, socket: plan.socket, requests: plan.requests });
    else this.context.stdout.write([argv.map(shellQuote).join(' '), ...plan.requests.map((r) => curlLine(plan.socket, r))].map((l) => `${l}\n`).join(''));
    return 0;
  }
}

/** Quotes one argument for a POSIX shell (for display only; cocoon never runs a shell string). */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=,@%+-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}
