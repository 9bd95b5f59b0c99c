/**
 * A real cloud image for the end-to-end suites, built offline from Debian packages: a GPT
 * disk whose EFI system partition holds systemd-boot (the firmware's removable-media
 * loader `\EFI\BOOT\BOOTX64.EFI`), Debian's cloud kernel and its initramfs, and whose ext4
 * root is a bookworm `minbase` with systemd, udev, dbus (so logind turns the ACPI power
 * button into a poweroff), netplan (cloud-init renders cocoon's netplan v2 for it), openssh-server, sudo and **Debian's `cloud-init` package**,
 * which reads cocoon's NoCloud seed on the first boot exactly as on any cloud. cocoon's
 * guest agent is baked in the way the README describes ("Baking the agent into any image"),
 * so a suite can also look inside with `vm exec`.
 *
 * Two steps, two lifetimes:
 * - the package set (`mmdebstrap`, ~1.5 min and ~150 MiB of downloads) is cached as a
 *   tarball under `<e2e root>/cache/cloud-guest/`, named by a digest of the recipe, so a
 *   test run builds it once (CI: once per run) and a changed recipe builds anew;
 * - the disk itself (the tarball unpacked, the image's settings and the current agent added,
 *   `mke2fs -d`, `mformat`/`mcopy`, `sfdisk`) takes seconds and is made per suite, because
 *   the agent changes with every build of cocoon.
 *
 * The image's own settings (what a distribution's cloud image would also ship):
 * `datasource_list: [NoCloud, None]`, ed25519 host keys only (RSA key generation takes
 * minutes under TCG), no periodic apt/e2scrub timers, and an `/etc/issue` that makes agetty
 * print the address of eth0 above the login prompt.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { BIN, E2E_ROOT, REPO } from './cocoon.ts';

const SUITE = 'bookworm';
const PACKAGES = ['systemd-sysv', 'udev', 'dbus', 'cloud-init', 'linux-image-cloud-amd64', 'initramfs-tools', 'netplan.io', 'openssh-server', 'sudo'];
/** dpkg never unpacks these (smaller tarball, faster mke2fs); nothing in the guest reads them. */
const EXCLUDES = ['/usr/share/doc/*', '/usr/share/man/*', '/usr/share/info/*', '/usr/share/locale/*'];
const SYSTEMD_BOOT = '/usr/lib/systemd/boot/efi/systemd-bootx64.efi';
const MiB = 2 ** 20;
const ESP_MIB = 64;
const ROOT_MIB = 1536;
/** The root filesystem's label, named on the kernel command line and in fstab. */
export const ROOT_LABEL = 'cocoon-root';
/** Kernel command line of the boot entry: the serial console is what cocoon's console socket carries. */
export const CLOUD_GUEST_CMDLINE = `root=LABEL=${ROOT_LABEL} ro console=ttyS0,115200`;

const CLOUD_CFG = `# cocoon e2e cloud guest: the image's own settings (cloud.cfg.d, like any cloud image)
datasource_list: [ NoCloud, None ]
ssh_genkeytypes: [ ed25519 ]
locale: C.UTF-8
`;
const ISSUE = 'Debian GNU/Linux 12 \\n \\l  eth0: \\4{eth0}\n\n';

/** Fails with the package to install when a build tool is missing (never skips). */
function requireBuildTools(): void {
  const onPath = (tool: string) => (process.env.PATH ?? '').split(':').some((d) => existsSync(join(d, tool)));
  for (const [tool, pkg] of [['mmdebstrap', 'mmdebstrap'], ['sfdisk', 'fdisk'], ['mformat', 'mtools'], ['mke2fs', 'e2fsprogs']] as const) {
    if (!onPath(tool)) throw new Error(`${tool} is missing: install the Debian package ${pkg} (doctor/cocoon-doctor install)`);
  }
  if (!existsSync(SYSTEMD_BOOT)) throw new Error(`${SYSTEMD_BOOT} is missing: install the Debian package systemd-boot-efi (doctor/cocoon-doctor install)`);
}

/** The host's deb822 Debian sources, as mmdebstrap's mirror argument, when they name this suite. */
function hostSources(): string[] {
  const file = '/etc/apt/sources.list.d/debian.sources';
  if (!existsSync(file)) return [];
  return new RegExp(`^Suites:.*\\b${SUITE}\\b`, 'm').test(readFileSync(file, 'utf8')) ? [file] : [];
}

/** The cached package tarball, built with mmdebstrap when the recipe's digest has none. */
async function baseTarball(): Promise<string> {
  const key = createHash('sha256').update(JSON.stringify({ SUITE, PACKAGES, EXCLUDES })).digest('hex').slice(0, 16);
  const dir = join(E2E_ROOT, 'cache', 'cloud-guest');
  const tarball = join(dir, `base-${key}.tar`);
  if (existsSync(tarball)) return tarball;
  mkdirSync(dir, { recursive: true });
  for (const stale of readdirSync(dir)) rmSync(join(dir, stale), { recursive: true, force: true });
  const partial = join(dir, `.base-${key}-${process.pid}.tar`);
  try {
    // The host's own apt sources when they are this suite's (CI's mirror, whatever it is);
    // else no mirror argument: mmdebstrap then uses deb.debian.org with updates and security.
    const sources = hostSources();
    await execa('mmdebstrap', ['--variant=minbase', `--include=${PACKAGES.join(',')}`, ...EXCLUDES.map((p) => `--dpkgopt=path-exclude=${p}`), SUITE, partial, ...sources], {
      stdin: 'ignore',
      timeout: 1_200_000,
    });
    renameSync(partial, tarball);
  } finally {
    rmSync(partial, { force: true });
  }
  return tarball;
}

/** Adds the image's settings and the guest agent to the unpacked root `root`. */
function customise(root: string): void {
  writeFileSync(join(root, 'etc/hostname'), 'localhost\n');
  writeFileSync(join(root, 'etc/hosts'), '127.0.0.1 localhost\n::1 localhost\n');
  writeFileSync(join(root, 'etc/fstab'), `LABEL=${ROOT_LABEL} / ext4 defaults 0 1\n`);
  writeFileSync(join(root, 'etc/cloud/cloud.cfg.d/90-cocoon-e2e.cfg'), CLOUD_CFG);
  writeFileSync(join(root, 'etc/issue'), ISSUE);
  writeFileSync(join(root, 'etc/machine-id'), '');
  rmSync(join(root, 'etc/systemd/system/timers.target.wants'), { recursive: true, force: true });
  const exe = realpathSync(join(BIN, 'cocoon'));
  const lib = join(root, 'usr/local/lib/cocoon');
  mkdirSync(lib, { recursive: true });
  for (const file of [exe, join(dirname(exe), 'cocoon_native.node'), join(dirname(exe), 'pty.node')]) copyFileSync(file, join(lib, file === exe ? 'cocoon' : file.slice(dirname(exe).length + 1)));
  mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
  symlinkSync('../lib/cocoon/cocoon', join(root, 'usr/local/bin/cocoon-agent'));
  copyFileSync(join(REPO, 'bins/cocoon-agent/systemd/cocoon-agent.service'), join(root, 'etc/systemd/system/cocoon-agent.service'));
  symlinkSync('../cocoon-agent.service', join(root, 'etc/systemd/system/multi-user.target.wants/cocoon-agent.service'));
}

/** The FAT EFI system partition image: systemd-boot, one entry, the kernel and initramfs. */
async function espImage(root: string, out: string): Promise<void> {
  const boot = readdirSync(join(root, 'boot'));
  const version = boot.find((f) => f.startsWith('vmlinuz-'))?.slice('vmlinuz-'.length);
  if (!version || !boot.includes(`initrd.img-${version}`)) throw new Error(`no kernel + initramfs in the cloud guest's /boot: ${boot.join(' ')}`);
  const staging = `${out}.d`;
  mkdirSync(join(staging, 'loader/entries'), { recursive: true });
  writeFileSync(join(staging, 'loader/loader.conf'), 'default cocoon.conf\ntimeout 0\n');
  writeFileSync(join(staging, 'loader/entries/cocoon.conf'), `title cocoon e2e cloud guest\nlinux /vmlinuz\ninitrd /initrd.img\noptions ${CLOUD_GUEST_CMDLINE}\n`);
  writeFileSync(out, '');
  truncateSync(out, ESP_MIB * MiB);
  await execa('mformat', ['-i', out, '-v', 'ESP', '::']);
  await execa('mmd', ['-i', out, '::/EFI', '::/EFI/BOOT']);
  await execa('mcopy', ['-i', out, SYSTEMD_BOOT, '::/EFI/BOOT/BOOTX64.EFI']);
  await execa('mcopy', ['-i', out, join(root, 'boot', `vmlinuz-${version}`), '::/vmlinuz']);
  await execa('mcopy', ['-i', out, join(root, 'boot', `initrd.img-${version}`), '::/initrd.img']);
  await execa('mcopy', ['-s', '-i', out, join(staging, 'loader'), '::/']);
  rmSync(staging, { recursive: true, force: true });
}

/**
 * Builds the cloud guest's raw GPT disk at `<dir>/cloud-guest.raw` (sparse, ~1.6 GiB
 * virtual) and returns its path. The package tarball comes from the cache when it is there.
 */
export async function buildCloudGuest(dir: string): Promise<string> {
  requireBuildTools();
  if (!existsSync(join(BIN, 'cocoon'))) throw new Error(`${BIN}/cocoon is missing: run "npm run build" first`);
  const tarball = await baseTarball();
  const root = join(dir, 'rootfs');
  mkdirSync(root, { recursive: true });
  try {
    await execa('tar', ['-xf', tarball, '-C', root, '--numeric-owner']);
    customise(root);
    await espImage(root, join(dir, 'esp.img'));
    writeFileSync(join(dir, 'root.img'), '');
    truncateSync(join(dir, 'root.img'), ROOT_MIB * MiB);
    await execa('mke2fs', ['-q', '-t', 'ext4', '-L', ROOT_LABEL, '-d', root, join(dir, 'root.img')]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const disk = join(dir, 'cloud-guest.raw');
  writeFileSync(disk, '');
  truncateSync(disk, (1 + ESP_MIB + ROOT_MIB + 1) * MiB);
  const layout = `label: gpt\nstart=1MiB, size=${ESP_MIB}MiB, type=U, name=esp\nstart=${1 + ESP_MIB}MiB, size=${ROOT_MIB}MiB, type=L, name=root\n`;
  await execa('sfdisk', ['-q', disk], { input: layout });
  for (const [part, offsetMib] of [['esp.img', 1], ['root.img', 1 + ESP_MIB]] as const) {
    await execa('dd', [`if=${join(dir, part)}`, `of=${disk}`, 'bs=1M', `seek=${offsetMib}`, 'conv=notrunc,sparse', 'status=none']);
    rmSync(join(dir, part), { force: true });
  }
  return disk;
}
