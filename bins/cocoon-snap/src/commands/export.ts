import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Command, Option } from 'clipanion';
import { CocoonCommand } from '@cocoon/common/cli';

export class ExportCommand extends CocoonCommand {
  static override paths = [['export']];
  static override usage = Command.Usage({
    description: 'write a snapshot as a tar stream (to a file or stdout)',
    details: [
      'The archive is plain tar (PAX): `snapshot.json` first (`{"version":2,"config":<the snapshot record, with every file\'s size and digest>}`), then the snapshot\'s files. Sparse files stay sparse in the standard way (GNU sparse 1.0), so `tar -xf` restores them bit for bit and a mostly empty disk exports as about its data.',
      'With `-o -` (or no `-o` when stdout is not a terminal) the stream goes to stdout: `cocoon snapshot export s -o - | ssh host cocoon snapshot import --name s`.',
    ].join('\n\n'),
    examples: [
      ['Export to a file', '$0 export base -o base.tar'],
      ['Compressed, to stdout', '$0 export --gzip base -o - > base.tar.gz'],
    ],
  });

  output = Option.String('-o,--output', { description: 'file to write, or - for stdout (default: <name>.tar, or stdout when it is not a terminal)' });
  gzip = Option.Boolean('--gzip', false, { description: 'gzip the whole stream' });
  snapshot = Option.String({ name: 'SNAPSHOT' });

  override async execute(): Promise<number> {
    const [{ exportByRef }, { findSnapshot }] = await Promise.all([import('../transfer.ts'), import('@cocoon/common/snapshots/store')]);
    const toStdout = this.output === '-' || (this.output === undefined && !this.stdoutIsTty);
    if (toStdout) {
      await exportByRef(this.layout, this.snapshot, this.context.stdout, this.gzip);
      return 0;
    }
    const file = this.output ?? `${(await findSnapshot(this.layout, this.snapshot)).name}.tar${this.gzip ? '.gz' : ''}`;
    try {
      await exportByRef(this.layout, this.snapshot, createWriteStream(file, { mode: 0o600, highWaterMark: 4 << 20 }), this.gzip);
    } catch (err) {
      // Nothing half-made: a failed export leaves no partial file.
      await rm(file, { force: true });
      throw err;
    }
    this.context.stdout.write(`${file}\n`);
    return 0;
  }
}
