import { Command, Option } from 'clipanion';
import { chooseFormat, CocoonCommand, formatOption, outputOption } from '@cocoon/common/cli';
import { UsageError } from '@cocoon/common/errors';
import { IdSchema } from '@cocoon/common/schemas/common';
import type { NetDelResult } from '@cocoon/common/schemas/net';

export class DelCommand extends CocoonCommand {
  static override paths = [['del'], ['rm']];
  static override usage = Command.Usage({
    description: 'tear down the network of VMs: CNI DEL, the netns, the TAPs',
    details: 'Best effort per VM: every plugin gets its DEL (in reverse order, with the cached ADD result) and the netns is removed even when a plugin fails; what failed is printed and kept in the networks index for a later `del` or `gc`. Exit 10 when something could not be removed.',
    examples: [['Tear down a VM\'s network', '$0 del 0123456789abcdef0123456789abcdef'], ['As JSON', '$0 del -o json <vm id>']],
  });

  format = formatOption('output: id (default) or json ({"succeeded": [...], "failed": [...]})');
  output = outputOption();
  ids = Option.Rest({ name: 'VM-ID', required: 1 });

  override async execute(): Promise<number> {
    const format = chooseFormat(this.format, this.output, ['id', 'json'] as const, 'id');
    for (const id of this.ids) if (!IdSchema.safeParse(id).success) throw new UsageError(`"${id}" is not a VM ID (32 lowercase hex characters)`);
    const { delNetwork } = await import('../teardown.ts');
    const result: NetDelResult = { succeeded: [], failed: [] };
    for (const id of this.ids) {
      try {
        await delNetwork(this.layout, id);
        result.succeeded.push(id);
      } catch (err) {
        result.failed.push({ id, error: (err as Error).message });
      }
    }
    if (format === 'json') this.writeJson(result);
    else for (const id of result.succeeded) this.context.stdout.write(`${id}\n`);
    for (const f of result.failed) this.context.stderr.write(`${this.context.tool}: ${f.error}\n`);
    return result.failed.length > 0 ? 10 : 0;
  }
}
