import { Command } from 'clipanion';
import { CocoonCommand, formatOption, outputOption, resolveFormat } from '@cocoon/common/cli';
import { formatPublish } from '@cocoon/common/net/policy';
import { networksIndex } from '@cocoon/common/net/networks';
import { renderTable, timeAgo } from '@cocoon/common/table';

export class ListCommand extends CocoonCommand {
  static override paths = [['list'], ['ls']];
  static override usage = Command.Usage({
    description: 'list the networks index: one record per VM with NICs',
    details: 'A table on a terminal, a JSON array of records otherwise (`--format json`): VM ID, state, backend, netns or bridge, NICs (interface, TAP, MAC, IP, cached CNI result), published ports and egress policy.',
    examples: [['List VM networks', '$0 list'], ['As JSON', '$0 ls -o json']],
  });

  format = formatOption();
  output = outputOption();

  override async execute(): Promise<number> {
    const format = resolveFormat(this.format, this.output, this.stdoutIsTty);
    const records = (await networksIndex(this.layout).list()).sort((a, b) => a.created_at.localeCompare(b.created_at));
    if (format === 'json') {
      this.writeJson(records);
      return 0;
    }
    const rows = records.map((r) => [
      r.id.slice(0, 12),
      r.state,
      r.backend === 'cni' ? `cni:${r.conflist?.name ?? '?'}` : `bridge:${r.bridge_dev ?? '?'}`,
      r.nics.map((n) => `${n.if_name}=${n.ip ?? 'dhcp'}`).join(' '),
      r.publish.map(formatPublish).join(' '),
      r.egress ? `${r.egress.mode}(${r.egress.rules.length})` : '',
      timeAgo(r.created_at),
    ]);
    this.context.stdout.write(renderTable(['VM', 'STATE', 'NETWORK', 'NICS', 'PUBLISH', 'EGRESS', 'CREATED'], rows));
    return 0;
  }
}
