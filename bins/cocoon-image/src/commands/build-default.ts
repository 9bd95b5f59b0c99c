import { access, copyFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Command, Option } from 'clipanion';
import { CocoonCommand } from '@cocoon/common/cli';
import { NotFoundError } from '@cocoon/common/errors';
import { imageIndex } from '@cocoon/common/images/store';
import { log } from '@cocoon/common/log';
import { makeTempDir } from '@cocoon/common/store/temp';
import { agentDigest } from '../default-guest/agent-layer.ts';
import { buildDefaultGuest } from '../default-guest/build.ts';
import { importImage } from '../import/index.ts';

/** The name the default guest is imported under. */
export const DEFAULT_IMAGE = 'default';

export class BuildDefaultCommand extends CocoonCommand {
  static override paths = [['build-default']];
  static override usage = Command.Usage({
    category: 'Images',
    description: 'build the default guest from the host packages and import it as "default"',
    details:
      "Builds, offline from Debian packages, a three-layer OCI image: a busybox root filesystem; Debian's cloud kernel with an initramfs that implements cocoon's kernel command line contract (EROFS layers + ext4 COW as an overlay root, `ip=` in userspace, ACPI power button, a console shell, the readiness line `cocoon: guest ready`); and the guest agent (this cocoon's executable). The kernel package is downloaded once with `apt-get download` into `<root>/cache/`. Does nothing when `default` exists with this cocoon's agent (its digest is in the image's source), unless `--force`. Prints the image record as JSON.",
    examples: [
      ['Build and import the default guest', '$0 build-default'],
      ['Rebuild it from a given kernel package', '$0 build-default --force --kernel-deb ./linux-image-6.1.0-56-cloud-amd64_6.1.192-2_amd64.deb'],
      ['Only write the OCI layout tarball', '$0 build-default --output ./default.oci.tar'],
    ],
  });

  force = Option.Boolean('--force', false, { description: 'rebuild and replace an existing default image' });
  kernelDeb = Option.String('--kernel-deb', { description: 'use this linux-image .deb instead of downloading linux-image-cloud-amd64' });
  output = Option.String('--output,-o', { description: 'write the OCI layout tarball to this file and do not import it' });

  override async execute(): Promise<number> {
    const layout = this.layout;
    const agent = `agent ${(await agentDigest()).slice(7, 19)}`;
    const existing = (await imageIndex(layout).list()).find((r) => r.name === DEFAULT_IMAGE);
    if (existing && !this.force && !this.output) {
      if (existing.source.includes(agent)) {
        log().info({ id: existing.id }, 'the default image exists already with this agent (use --force to rebuild)');
        this.writeJson(existing);
        return 0;
      }
      log().info({ id: existing.id, source: existing.source }, 'the default image carries another agent: rebuilding it');
    }
    if (this.kernelDeb) await access(this.kernelDeb).catch(() => {
      throw new NotFoundError(`--kernel-deb: ${this.kernelDeb} does not exist`);
    });
    const work = await makeTempDir(layout.tmp, 'build-default');
    try {
      const built = await buildDefaultGuest({
        workDir: work,
        cacheDir: join(layout.root, 'cache'),
        kernelDeb: this.kernelDeb ? resolve(this.kernelDeb) : undefined,
      });
      log().info({ kernel: built.kernelVersion, manifest: built.manifestDigest, modules: built.modules.length }, 'default guest built');
      if (this.output) {
        await copyFile(built.tarball, resolve(this.output));
        this.writeJson({ tarball: resolve(this.output), kernel: built.kernelVersion, digest: built.manifestDigest, modules: built.modules });
        return 0;
      }
      const record = await importImage({ config: this.config, layout }, { name: DEFAULT_IMAGE, sources: [built.tarball], force: existing !== undefined, source: `build-default (${built.kernelVersion}, ${agent})` });
      this.writeJson(record);
      return 0;
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
}
