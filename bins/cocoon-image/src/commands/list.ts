import { Command } from 'clipanion';
import { CocoonCommand, formatOption, outputOption, resolveFormat } from '@cocoon/common/cli';
import { imageIndex } from '@cocoon/common/images/store';
import { renderTable, timeAgo } from '@cocoon/common/table';
import { formatSize } from '@cocoon/common/units';

export class ListCommand extends CocoonCommand {
  static override paths = [['list'], ['ls']];
  static override usage = Command.Usage({
    category: 'Images',
    description: 'list images',
    details: 'A table on a terminal, a JSON array of image records otherwise (or with `--format json`).',
    examples: [
      ['List images', '$0 list'],
      ['Names only', "$0 ls --format json | jq -r '.[].name'"],
    ],
  });

  format = formatOption();
  output = outputOption();

  override async execute(): Promise<number> {
    const format = resolveFormat(this.format, this.output, this.stdoutIsTty);
    const images = (await imageIndex(this.layout).list()).sort((a, b) => a.created_at.localeCompare(b.created_at));
    if (format === 'json') {
      this.writeJson(images);
      return 0;
    }
    const rows = images.map((i) => [i.name, i.id.slice(0, 12), i.digest.slice(7, 19), String(i.layers.length), formatSize(i.size), timeAgo(i.created_at)]);
    this.context.stdout.write(renderTable(['NAME', 'ID', 'DIGEST', 'LAYERS', 'SIZE', 'CREATED'], rows));
    return 0;
  }
}
