import { Command, Option } from 'clipanion';
import { chooseFormat, CocoonCommand, formatOption, outputOption } from '@cocoon/common/cli';

export class SaveCommand extends CocoonCommand {
  static override paths = [['save']];
  static override usage = Command.Usage({
    description: 'snapshot a running VM: pause, save device and memory state, copy its writable disks, resume',
    details: 'The VM is resumed whatever happens (unless you had paused it). The snapshot is invisible until it is complete; a save that fails or is killed leaves nothing behind. Prints the snapshot ID, or its record with `-o json`.',
    examples: [
      ['Snapshot VM web', '$0 save --name web-1 web'],
      ['With a description, record as JSON', '$0 save --name base --description "clean install" -o json web'],
    ],
  });

  name = Option.String('--name', { description: 'snapshot name (default <vm name>-<id8>); "already exists" if taken' });
  description = Option.String('--description', { description: 'free text kept with the snapshot' });
  format = formatOption('output: id (default) or json (the snapshot record)');
  output = outputOption();
  vm = Option.String({ name: 'VM' });

  override async execute(): Promise<number> {
    const format = chooseFormat(this.format, this.output, ['id', 'json'] as const, 'id');
    const [{ saveSnapshot }, { recoverStaleSnapshots }] = await Promise.all([import('../save.ts'), import('@cocoon/common/snapshots/recover')]);
    await recoverStaleSnapshots(this.layout);
    const record = await saveSnapshot(this.layout, { vm: this.vm, name: this.name, description: this.description });
    if (format === 'json') this.writeJson(record);
    else this.context.stdout.write(`${record.id}\n`);
    return 0;
  }
}
