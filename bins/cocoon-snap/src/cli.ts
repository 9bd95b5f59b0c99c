import { plannedCli } from '@cocoon/common/planned';

/** save, list, inspect, remove, export and import VM snapshots */
export const cli = plannedCli('cocoon-snap', 'save, list, inspect, remove, export and import VM snapshots', [
  'save VM [--name N]: pause, snapshot, copy writable disks, resume',
  'list|ls [--format json]',
  'inspect SNAPSHOT',
  'rm SNAPSHOT',
  'export SNAPSHOT [--gzip] > file.tar: a tar stream with a versioned manifest',
  'import [NAME] < file.tar: validated, never writes outside its target',
]);
