import { plannedCli } from '@cocoon/common/planned';

/** wire VMs into CNI networks: per-VM netns, TAP devices, TC redirect, bridge mode */
export const cli = plannedCli('cocoon-net', 'wire VMs into CNI networks: per-VM netns, TAP devices, TC redirect, bridge mode', [
  'add VM [--nics N] [--network CONF]: CNI ADD into the VM netns, one TAP per NIC',
  'del VM: CNI DEL and remove the netns',
  'check VM: CNI CHECK',
  'list [--format json]: networks and their VMs',
]);
