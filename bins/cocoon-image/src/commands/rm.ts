import { Command, Option } from 'clipanion';
import { CocoonCommand } from '@cocoon/common/cli';
import { BusyError } from '@cocoon/common/errors';
import { imageIndex } from '@cocoon/common/images/store';
import { pruneLayers } from '@cocoon/common/images/prune';
import { findImage } from '@cocoon/common/images/resolve';
import { vmIndex } from '@cocoon/common/vms';

export class RmCommand extends CocoonCommand {
  static override paths = [['rm'], ['remove']];
  static override usage = Command.Usage({
    category: 'Images',
    description: 'remove images',
    details:
      'Removes the records, then the layer disks and boot files no remaining image uses. An image a VM uses is refused unless `--force`; even then, disks attached to a VM are kept. Prints the removed records as a JSON array.',
    examples: [
      ['Remove an image', '$0 rm ubuntu:24.04'],
      ['Remove an image a VM still uses', '$0 rm --force default'],
    ],
  });

  force = Option.Boolean('--force,-f', false, { description: 'remove even when a VM uses the image' });
  refs = Option.Rest({ name: 'REF', required: 1 });

  override async execute(): Promise<number> {
    const layout = this.layout;
    const removed = await imageIndex(layout).update(async (items) => {
      const targets = [];
      for (const ref of this.refs) targets.push(await findImage(layout, ref));
      if (!this.force) {
        const vms = await vmIndex(layout).list();
        for (const t of targets) {
          const users = vms.filter((vm) => vm.image.id === t.id).map((vm) => vm.name);
          if (users.length > 0) throw new BusyError(`image "${t.name}" is used by VM ${users.join(', ')} (remove the VM first, or use --force)`);
        }
      }
      for (const t of targets) items.delete(t.id);
      await pruneLayers(layout, targets.flatMap((t) => t.layers.map((l) => l.digest)), items.values());
      return targets;
    });
    this.writeJson(removed);
    return 0;
  }
}
