import { Command, Option } from 'clipanion';
import { CocoonCommand } from '@cocoon/common/cli';

export class VmInspectCommand extends CocoonCommand {
  static override paths = [['vm', 'inspect']];
  static override usage = Command.Usage({
    category: 'VM',
    description: 'print the full record of a VM as JSON',
    details:
      'The record in the Go cocoon\'s shape (`id`, `state`, `pid`, `config{name, cpu, memory, storage, image …}`, `network_configs`, `storage_configs` …) with its live state, plus `runtime`: the paths of its sockets, disks and logs (`runtime.logs`: the console and hypervisor logs with their rotated generations, the console log\'s time marks and the engine log), and the console endpoint. A missing VM is "VM not found" (exit 3).',
    examples: [['Inspect a VM', '$0 vm inspect web'], ['Its hypervisor PID', "$0 vm inspect web | jq .pid"]],
  });

  ref = Option.String({ name: 'VM' });

  override async execute(): Promise<number> {
    const [{ driverFor }, { vmPaths }, { vmIndex }, { withLiveState }, { marksFile }, { generations }] = await Promise.all([
      import('@cocoon/common/hypervisor/drivers'),
      import('@cocoon/common/hypervisor/index'),
      import('@cocoon/common/vms'),
      import('../../vm/state.ts'),
      import('@cocoon/common/vm-logs'),
      import('@cocoon/common/log-rotate'),
    ]);
    const vm = withLiveState(this.layout, await vmIndex(this.layout).resolve(this.ref));
    const paths = vmPaths(this.layout, vm.id);
    // Where the logs are: the console and hypervisor logs with their rotated generations, the
    // console log's time marks (vm logs --since) and the engine's own log.
    const logs = {
      console: [paths.consoleLog, ...generations(paths.consoleLog)],
      hypervisor: [paths.hypervisorLog, ...generations(paths.hypervisorLog)],
      console_marks: marksFile(paths),
      engine: `${this.layout.log}/cocoon.log`,
    };
    this.writeJson({ ...vm, runtime: { ...paths, console: driverFor(vm.hypervisor).consoleEndpoint(paths), logs } });
    return 0;
  }
}
