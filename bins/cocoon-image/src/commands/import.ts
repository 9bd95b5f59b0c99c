import { Command, Option } from 'clipanion';
import { CocoonCommand } from '@cocoon/common/cli';
import { diskFormatOption, parseDiskFormat } from '../cloud/disk-format-option.ts';
import { importImage } from '../import/index.ts';
import { openProgress, progressOption } from '../progress/index.ts';

export class ImportCommand extends CocoonCommand {
  static override paths = [['import']];
  static override usage = Command.Usage({
    category: 'Images',
    description: 'import an OCI image layout, a docker-save tarball or a qcow2/raw disk image',
    details:
      'Reads one tarball (gzip allowed), several files concatenated in order (a split image) or `-` for stdin. Each layer becomes a read-only EROFS disk in the store (shared with other images); the kernel and initrd are taken from `boot/` of the layers. A qcow2 or raw disk is stored as one read-only qcow2 v3 disk, like a pulled cloud image: a qcow2 must pass `qemu-img check`, and raw bytes are taken for a disk only with an MBR or GPT partition table, or with `--disk-format raw`. Prints the image record as JSON.',
    examples: [
      ['Import a docker-save tarball', '$0 import myimage:1.0 ./image.tar'],
      ['Import from stdin', 'docker save alpine | $0 import alpine -'],
      ['Import a split image, replacing an older one', '$0 import --force default part-aa part-ab'],
      ['Import a gzip-compressed qcow2 cloud image from stdin', '$0 import noble - < noble.qcow2.gz'],
      ['Import a bare filesystem image as a raw disk', '$0 import --disk-format raw rootfs ./rootfs.ext4'],
    ],
  });

  force = Option.Boolean('--force', false, { description: 'replace an image of the same name' });
  progress = progressOption();
  diskFormat = diskFormatOption();
  name = Option.String({ name: 'NAME' });
  files = Option.Rest({ name: 'FILE', required: 1 });

  override async execute(): Promise<number> {
    const diskFormat = parseDiskFormat(this.diskFormat);
    const progress = openProgress(this.progress, this.context.stderr);
    const record = await importImage(
      { config: this.config, layout: this.layout },
      {
        name: this.name,
        sources: this.files,
        force: this.force,
        stdin: this.context.stdin,
        progress,
        diskFormat,
      },
    ).finally(() => progress.close());
    this.writeJson(record);
    return 0;
  }
}
