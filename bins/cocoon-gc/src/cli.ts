import { createCli } from '@cocoon/common/cli';
import { GcCommand } from './commands/gc.ts';

/** cocoon-gc: lock-safe garbage collection (`cocoon gc`). */
export const cli = createCli('cocoon-gc', 'lock-safe garbage collection across images, VMs, networks and snapshots');
cli.register(GcCommand);
