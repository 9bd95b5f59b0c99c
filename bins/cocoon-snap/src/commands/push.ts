import { Command, Option } from 'clipanion';
import { CocoonCommand, chooseFormat, formatOption, outputOption } from '@cocoon/common/cli';

export class PushCommand extends CocoonCommand {
  static override paths = [['push']];
  static override usage = Command.Usage({
    description: 'store a snapshot in an OCI registry as an artifact',
    details: 'One layer per snapshot file (sparse disks as GNU sparse 1.0 tars), the manifest `snapshot.json` as the config blob. Blobs the registry already has are not sent again. Credentials: `--username/--password`, `COCOON_REGISTRY_USERNAME/COCOON_REGISTRY_PASSWORD`, or a docker `config.json`. Prints the pushed reference and manifest digest (`-o json`: with the counts of blobs uploaded and skipped).',
    examples: [
      ['Push snapshot base', '$0 push base registry.example.com/sandboxes/base:v1'],
      ['To a local registry over plain HTTP', '$0 push base localhost:5000/snaps/base:latest'],
    ],
  });

  insecure = Option.Boolean('--insecure', false, { description: 'allow plain HTTP to this registry (loopback registries always may)' });
  username = Option.String('--username', { description: 'registry user name (with --password)' });
  password = Option.String('--password', { description: 'registry password or token (prefer COCOON_REGISTRY_PASSWORD: flags show in ps)' });
  format = formatOption('output: text (default) or json');
  output = outputOption();
  snapshot = Option.String({ name: 'SNAPSHOT' });
  reference = Option.String({ name: 'REF' });

  override async execute(): Promise<number> {
    const format = chooseFormat(this.format, this.output, ['text', 'json'] as const, 'text');
    const { pushSnapshot } = await import('../registry.ts');
    const r = await pushSnapshot(this.layout, this.snapshot, this.reference, { insecure: this.insecure, username: this.username, password: this.password, env: this.context.env });
    if (format === 'json') this.writeJson(r);
    else this.context.stdout.write(`${r.reference}@${r.digest}\n`);
    return 0;
  }
}
