import { Command } from 'clipanion';
import { CocoonCommand } from '@cocoon/common/cli';
import { InvalidDataError } from '@cocoon/common/errors';

export class AddCommand extends CocoonCommand {
  static override paths = [['add']];
  static override usage = Command.Usage({
    description: 'set up the network of a VM from a JSON request on stdin, print its NICs as JSON',
    details: [
      'The request (schema `NetAddRequestSchema` in libs/common/src/schemas/net.ts): `vm_id`, `nics`, `cpu`, and optionally `hypervisor`, `queue_size`, `network` (conflist name; default: the first conflist in --cni-conf-dir by file name), `bridge` (bridge mode), `publish` (port mappings), `egress` (policy), `existing` (recovery: the NICs as recorded, same MACs and IPs).',
      'CNI mode: a netns `cocoon-<vm id>`; per NIC the conflist\'s plugins run (`CNI_IFNAME=eth<i>`), then a TAP `tap<id8>-<i>` with TC redirect to the veth. Bridge mode: TAPs `bt<id8>-<i>` on the bridge, random MACs, DHCP in the guest.',
      'Prints `{"network": NAME, "network_configs": [...]}`. A failure undoes everything it made.',
    ].join('\n\n'),
    examples: [['One NIC on the default network', `$0 add <<<'{"vm_id":"0123456789abcdef0123456789abcdef","nics":1,"cpu":2}'`]],
  });

  override async execute(): Promise<number> {
    const text = await readAll(this.context.stdin);
    let request: unknown;
    try {
      request = JSON.parse(text);
    } catch (err) {
      throw new InvalidDataError(`the request on stdin is not JSON (${(err as Error).message})`);
    }
    const { addNetwork } = await import('../setup.ts');
    this.writeJson(await addNetwork(this.layout, request));
    return 0;
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}
