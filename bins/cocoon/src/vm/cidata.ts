/**
 * The NoCloud seed for cloud images: a small FAT disk labelled CIDATA with `meta-data`,
 * `user-data` and `network-config`, attached on the first boot only (cloud-init reads it
 * once; later boots keep what it configured).
 *
 * `network-config` is netplan v2: one MAC-matched `ethernets` entry per NIC, static
 * (address, default route, nameservers) or `dhcp4` (bridge mode). `user-data` sets the
 * login (`--user`/`--password`, root/cocoon by default as the Go cocoon): only a SHA-512
 * crypt hash of the password is written, made by `openssl passwd -6` with the password on
 * its stdin (never in an argv, a log or a record).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { run } from '@cocoon/common/exec';
import type { NetworkConfig } from '@cocoon/common/schemas/vm';

export interface SeedInput {
  instanceId: string;
  hostname: string;
  nics?: readonly NetworkConfig[];
  dns?: readonly string[];
  login?: { user: string; password: string };
}

/** The login part of user-data, with the password already hashed. */
export interface SeedLogin {
  user: string;
  hash: string;
}

/** YAML single-quoted scalar. */
function q(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/** netplan v2 for the NICs (MAC-matched, so names in the guest do not matter). */
export function networkConfig(nics: readonly NetworkConfig[], dns: readonly string[]): string {
  if (nics.length === 0) return 'version: 2\nethernets: {}\n';
  const lines = ['version: 2', 'ethernets:'];
  nics.forEach((n, i) => {
    lines.push(`  id${i}:`, '    match:', `      macaddress: "${n.mac}"`, `    set-name: eth${i}`);
    const a = n.network;
    if (!a?.ip) {
      lines.push('    dhcp4: true');
      return;
    }
    lines.push('    addresses:', `      - ${a.ip}/${a.prefix ?? 32}`);
    // One default route: the first NIC's (two defaults of equal metric would fight).
    if (a.gateway && i === nics.findIndex((x) => x.network?.gateway)) lines.push('    routes:', '      - to: default', `        via: ${a.gateway}`);
    if (dns.length > 0) lines.push('    nameservers:', '      addresses:', ...dns.map((d) => `        - ${d}`));
  });
  return `${lines.join('\n')}\n`;
}

/** cloud-config user-data: hostname and, with a login, the user's hashed password. */
export function userData(hostname: string, login: SeedLogin | undefined): string {
  const lines = ['#cloud-config', `hostname: ${hostname}`, 'preserve_hostname: false'];
  if (login) {
    if (login.user !== 'root') {
      lines.push('users:', '  - default', `  - name: ${login.user}`, '    shell: /bin/bash', "    sudo: 'ALL=(ALL) NOPASSWD:ALL'", '    lock_passwd: false');
    }
    lines.push('chpasswd:', '  expire: false', '  users:', `    - name: ${login.user}`, `      password: ${q(login.hash)}`, '      type: hash', 'ssh_pwauth: true');
    if (login.user === 'root') lines.push('disable_root: false');
  }
  return `${lines.join('\n')}\n`;
}

/** The three NoCloud documents for a VM. */
export function seedFiles(input: Omit<SeedInput, 'login'>, login?: SeedLogin): Record<string, string> {
  return {
    'meta-data': `instance-id: ${input.instanceId}\nlocal-hostname: ${input.hostname}\n`,
    'user-data': userData(input.hostname, login),
    'network-config': networkConfig(input.nics ?? [], input.dns ?? []),
  };
}

/** A SHA-512 crypt hash of `password` (a random salt each time). */
export async function hashPassword(password: string): Promise<string> {
  const { stdout } = await run('openssl', ['passwd', '-6', '-stdin'], { input: `${password}\n` });
  return stdout.trim();
}

/** Writes the CIDATA disk image at `path` (removed again on failure). */
export async function createSeedDisk(path: string, input: SeedInput): Promise<void> {
  const staging = await mkdtemp(join(dirname(path), '.cidata-'));
  try {
    const login = input.login ? { user: input.login.user, hash: await hashPassword(input.login.password) } : undefined;
    const files = seedFiles(input, login);
    for (const [name, text] of Object.entries(files)) await writeFile(join(staging, name), text, { mode: 0o600 });
    await run('mkfs.vfat', ['-n', 'CIDATA', '-C', path, '1024']);
    await run('mcopy', ['-o', '-i', path, ...Object.keys(files).map((f) => join(staging, f)), '::/']);
  } catch (err) {
    await rm(path, { force: true });
    throw err;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
