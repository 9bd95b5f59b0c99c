import { Command, Option } from 'clipanion';
import { CocoonCommand, formatOption, outputOption } from '@cocoon/common/cli';
import { forEachRef, wantsJson, parseSeconds } from '../../vm/flags.ts';

export class VmStopCommand extends CocoonCommand {
  static override paths = [['vm', 'stop']];
  static override usage = Command.Usage({
    category: 'VM',
    description: 'stop one or more VMs: ACPI power button, then SIGTERM, then SIGKILL',
    details:
      'The guest gets `--timeout` seconds to power off after the ACPI power button; then the hypervisor gets SIGTERM, then SIGKILL. A signal is only sent after checking that the PID still belongs to this VM. Stopping a stopped VM succeeds.',
    examples: [
      ['Stop a VM', '$0 vm stop web'],
      ['Give the guest 5 seconds', '$0 vm stop --timeout 5 web'],
      ['Skip the guest shutdown', '$0 vm stop --force web'],
    ],
  });

  timeout = Option.String('--timeout,-t', { description: 'seconds the guest gets to power off (default: stop_timeout_seconds of the config, 30)' });
  force = Option.Boolean('--force', false, { description: 'skip the graceful shutdown: SIGTERM, then SIGKILL' });
  format = formatOption('id (default): one ID a line; json: {"succeeded": [IDs]}');
  output = outputOption();
  refs = Option.Rest({ required: 1, name: 'VM' });

  override async execute(): Promise<number> {
    const timeoutMs = this.timeout === undefined ? this.config.stop_timeout_seconds * 1000 : parseSeconds(this.timeout, '--timeout');
    const { stopVm } = await import('../../vm/lifecycle.ts');
    const json = wantsJson(this.format, this.output);
    return forEachRef(this.refs, this.context, async (ref) => (await stopVm(this.layout, ref, { timeoutMs, force: this.force })).vm, json);
  }
}
