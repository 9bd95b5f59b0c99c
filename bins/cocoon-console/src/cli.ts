import { plannedCli } from '@cocoon/common/planned';

/** attach to a VM console: raw TTY, escape sequences, resize */
export const cli = plannedCli('cocoon-console', 'attach to a VM console: raw TTY, escape sequences, resize', [
  'VM: attach to the serial console (escape: Ctrl-] then q)',
]);
