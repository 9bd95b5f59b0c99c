import { plannedCli } from '@cocoon/common/planned';

/** lock-safe garbage collection across images, VMs, networks and snapshots */
export const cli = plannedCli('cocoon-gc', 'lock-safe garbage collection across images, VMs, networks and snapshots', [
  '[--dry-run] [--format json]: remove unreferenced blobs, orphan run dirs, netns and half-made records',
]);
