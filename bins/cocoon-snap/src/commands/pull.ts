import { Command, Option } from 'clipanion';
import { CocoonCommand, chooseFormat, formatOption, outputOption } from '@cocoon/common/cli';

export class PullCommand extends CocoonCommand {
  static override paths = [['pull']];
  static override usage = Command.Usage({
    description: 'fetch a snapshot pushed to an OCI registry and import it',
    details: 'Every blob is checked against its digest as it streams and every file against the snapshot\'s manifest, as `import` does; nothing is visible until all of it checked out. Prints the new snapshot ID, or its record with `-o json`. Clone it with `cocoon vm clone`.',
    examples: [
      ['Pull a snapshot', '$0 pull registry.example.com/sandboxes/base:v1'],
      ['Under another name', '$0 pull --name base2 localhost:5000/snaps/base:latest'],
    ],
  });

  name = Option.String('--name', { description: 'snapshot name (default: the pushed one)' });
  description = Option.String('--description', { description: 'replace the pushed description' });
  insecure = Option.Boolean('--insecure', false, { description: 'allow plain HTTP to this registry (loopback registries always may)' });
  username = Option.String('--username', { description: 'registry user name (with --password)' });
  password = Option.String('--password', { description: 'registry password or token (prefer COCOON_REGISTRY_PASSWORD: flags show in ps)' });
  format = formatOption('output: id (default) or json (the snapshot record)');
  output = outputOption();
  reference = Option.String({ name: 'REF' });

  override async execute(): Promise<number> {
    const format = chooseFormat(this.format, this.output, ['id', 'json'] as const, 'id');
    const [{ pullSnapshot }, { recoverStaleSnapshots }] = await Promise.all([import('../registry.ts'), import('@cocoon/common/snapshots/recover')]);
    await recoverStaleSnapshots(this.layout);
    const record = await pullSnapshot(this.layout, this.reference, { name: this.name, description: this.description }, { insecure: this.insecure, username: this.username, password: this.password, env: this.context.env });
    if (format === 'json') this.writeJson(record);
    else this.context.stdout.write(`${record.id}\n`);
    return 0;
  }
}
