import { Command, Option } from 'clipanion';
import { CocoonCommand } from '@cocoon/common/cli';
import { BusyError } from '@cocoon/common/errors';
import { imageIndex } from '@cocoon/common/images/store';
import { pruneLayers } from '@cocoon/common/images/prune';
import { findImage } from '@cocoon/common/images/resolve';
import { describeUsers, imageUsers } from '@cocoon/common/images/users';

export class RmCommand extends CocoonCommand {
  static override paths = [['rm'], ['remove']];
  static override usage = Command.Usage({
    category: 'Images',
    description: 'remove images',
    details:
      'Removes the records, then the layer disks (EROFS layers, cloud-image qcow2 files) and boot files no remaining image uses. An image a VM or a snapshot uses is refused unless `--force`; even then, disks attached to a VM and the disks of an image a snapshot references are kept. Prints the removed records as a JSON array.',
    examples: [
      ['Remove an image', '$0 rm ubuntu:24.04'],
      ['Remove an image a VM still uses', '$0 rm --force default'],
    ],
  });

  force = Option.Boolean('--force,-f', false, { description: 'remove even when a VM or snapshot uses the image' });
  refs = Option.Rest({ name: 'REF', required: 1 });

  override async execute(): Promise<number> {
    const layout = this.layout;
    const removed = await imageIndex(layout).update(async (items) => {
      const targets = [];
      for (const ref of this.refs) targets.push(await findImage(layout, ref));
      const users = await imageUsers(layout, targets);
      const keep = new Set<string>();
      for (const t of targets) {
        const u = users.get(t.id) ?? { vms: [], snapshots: [] };
        if (!this.force && (u.vms.length > 0 || u.snapshots.length > 0)) {
          throw new BusyError(`image "${t.name}" is used by ${describeUsers(u)} (remove them first, or use --force)`);
        }
        // NOTE: a snapshot restores onto its image's disks: --force drops the record, not them.
        if (u.snapshots.length > 0) for (const l of t.layers) keep.add(l.digest);
      }
      for (const t of targets) items.delete(t.id);
      const candidates = targets.flatMap((t) => t.layers.map((l) => l.digest)).filter((d) => !keep.has(d));
      await pruneLayers(layout, candidates, items.values());
      return targets;
    });
    this.writeJson(removed);
    return 0;
  }
}
