import { Option } from 'clipanion';
import { CocoonCommand, formatOption, outputOption, resolveFormat } from '@cocoon/common/cli';
import { UsageError } from '@cocoon/common/errors';
import { parseSize } from '@cocoon/common/units';
import { diskFormatOption, parseDiskFormat } from '../cloud/disk-format-option.ts';
import { importCloudImage } from '../cloud/import.ts';
import { isUrl, parseSource } from '../cloud/source.ts';
import type { ImageRecord } from '@cocoon/common/schemas/image';
import { openProgress, progressOption, type Progress } from '../progress/index.ts';
import { pullImage } from '../registry/pull.ts';

/** `cocoon-image pull IMAGE…`: OCI images from registries, cloud images from URLs or files. */
export class PullCommand extends CocoonCommand {
  static override paths = [['pull']];

  static override usage = CocoonCommand.Usage({
    description: 'pull images from an OCI registry, or cloud images (qcow2/raw) from a URL or a file',
    details: `
      An OCI reference (\`ubuntu\`, \`ghcr.io/a/b:tag\`, \`repo@sha256:…\`) is pulled over the distribution protocol; each layer becomes a read-only EROFS disk. A layer already in the store is not downloaded again (\`--force\` downloads it anyway).
      An \`http(s)://\` URL or a path to a file (\`./x.qcow2\`, \`/srv/x.img\`) is a cloud image: downloaded with SHA-256, checked, converted to qcow2 v3 when needed.
      Progress goes to stderr: bars on a terminal; with \`--progress json\`, one NDJSON event per line (schema \`ProgressEventSchema\`); stdout carries only the result.
      Credentials: \`--username/--password\`, \`COCOON_REGISTRY_USERNAME/COCOON_REGISTRY_PASSWORD\`, or \`$DOCKER_CONFIG/config.json\` / \`~/.docker/config.json\`.
    `,
    examples: [
      ['Pull an image from a local registry', '$0 pull localhost:5000/cocoon/ubuntu:24.04'],
      ['Pull the arm64 variant', '$0 pull --platform linux/arm64 ghcr.io/cocoonstack/cocoon/ubuntu:24.04'],
      ['Pull a cloud image', '$0 pull --name noble https://cloud-images.example/noble-server-cloudimg-amd64.img'],
    ],
  });

  images = Option.Rest({ required: 1, name: 'IMAGE' });
  platform = Option.String('--platform', 'linux/amd64', { description: 'platform to pick from a multi-platform image (os/arch[/variant])' });
  insecure = Option.Boolean('--insecure', false, { description: 'allow plain HTTP to the registries named on the command line (loopback registries always may)' });
  force = Option.Boolean('--force', false, { description: 'download layers even when the store has them; replace a cloud image of the same name' });
  username = Option.String('--username', { description: 'registry user name (with --password)' });
  password = Option.String('--password', { description: 'registry password or token (prefer COCOON_REGISTRY_PASSWORD: flags show in ps)' });
  name = Option.String('--name', { description: 'record name of a cloud image (default: the file name of the URL or path)' });
  maxSize = Option.String('--max-size', '64G', { description: 'largest cloud image accepted (e.g. 20G)' });
  timeout = Option.String('--timeout', '3600', { description: 'seconds a download may take' });
  progress = progressOption();
  diskFormat = diskFormatOption();
  format = formatOption();
  output = outputOption();

  async execute(): Promise<number> {
    const format = resolveFormat(this.format, this.output, this.stdoutIsTty);
    const timeoutMs = Number(this.timeout) * 1000;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new UsageError(`--timeout: "${this.timeout}" is not a positive number of seconds`);
    if (this.name && this.images.length > 1) throw new UsageError('--name needs exactly one IMAGE');
    // A bad URL is a usage error before anything is downloaded, even after other images.
    for (const image of this.images) parseSource(image);
    parseDiskFormat(this.diskFormat);
    const progress = openProgress(this.progress, this.context.stderr);
    try {
      const results = await this.pullAll(progress, timeoutMs);
      if (format === 'json') this.writeJson(results.map((r) => ({ ...r.record, downloaded_bytes: r.downloaded_bytes })));
      else for (const r of results) this.context.stdout.write(`${r.record.name}\t${r.record.id.slice(0, 12)}\t${r.record.digest.slice(0, 19)}\n`);
    } finally {
      progress.close();
    }
    return 0;
  }

  private async pullAll(progress: Progress, timeoutMs: number): Promise<Array<{ record: ImageRecord; downloaded_bytes: number | null }>> {
    const results = [];
    for (const image of this.images) {
      if (isUrl(image) || image.startsWith('/') || image.startsWith('./') || image.startsWith('../')) {
        const maxBytes = parseSize(this.maxSize, '--max-size', 1);
        results.push({ record: await importCloudImage(this.layout, { source: image, name: this.name, force: this.force, maxBytes, timeoutMs, progress, diskFormat: parseDiskFormat(this.diskFormat) }), downloaded_bytes: null });
      } else {
        const r = await pullImage(this, { reference: image, platform: this.platform, insecure: this.insecure, force: this.force, username: this.username, password: this.password, env: this.context.env, timeoutMs, progress });
        results.push({ record: r.record, downloaded_bytes: r.downloadedBytes });
      }
    }
    return results;
  }
}
