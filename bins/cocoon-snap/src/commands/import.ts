import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { Command, Option } from 'clipanion';
import { CocoonCommand, chooseFormat, formatOption, outputOption } from '@cocoon/common/cli';
import { errnoCode, InvalidDataError, NotFoundError } from '@cocoon/common/errors';

export class ImportCommand extends CocoonCommand {
  static override paths = [['import']];
  static override usage = Command.Usage({
    description: 'import a snapshot archive (a file, or stdin)',
    details: 'Reads an export of cocoon (version 2) or of the Go cocoon (version 1), gzip\'d or not. Every entry must be a regular file with a plain name listed in the manifest, matching its size and digest; the files are staged and moved into place only when all are checked, so a truncated or hostile archive leaves nothing. Prints the new snapshot ID, or its record with `-o json`.',
    examples: [
      ['Import a file', '$0 import base.tar'],
      ['From stdin, under another name', 'cat base.tar | $0 import --name base2'],
    ],
  });

  name = Option.String('--name', { description: 'snapshot name (default: the archive\'s)' });
  description = Option.String('--description', { description: 'replace the archive\'s description' });
  format = formatOption('output: id (default) or json (the snapshot record)');
  output = outputOption();
  file = Option.String({ name: 'FILE', required: false });

  override async execute(): Promise<number> {
    const format = chooseFormat(this.format, this.output, ['id', 'json'] as const, 'id');
    const [{ importArchive }, { recoverStaleSnapshots }] = await Promise.all([import('../transfer.ts'), import('@cocoon/common/snapshots/recover')]);
    await recoverStaleSnapshots(this.layout);
    const fromStdin = this.file === undefined || this.file === '-';
    const input = fromStdin ? (this.context.stdin as Readable) : await openArchive(this.file as string);
    const record = await importArchive(this.layout, input, { name: this.name, description: this.description });
    if (format === 'json') this.writeJson(record);
    else this.context.stdout.write(`${record.id}\n`);
    return 0;
  }
}

/** The archive file, opened before anything is reserved: a missing file is "not found" (3), a folder invalid data (9). */
async function openArchive(file: string): Promise<Readable> {
  const fh = await open(file, 'r').catch((err: unknown) => {
    throw errnoCode(err) === 'ENOENT' ? new NotFoundError(`${file}: no such file`) : err;
  });
  if ((await fh.stat()).isDirectory()) {
    await fh.close();
    throw new InvalidDataError(`${file} is a directory, not a snapshot archive`);
  }
  return fh.createReadStream({ highWaterMark: 4 << 20 });
}
