/**
 * The NoCloud seed for cloud images: a small FAT disk labelled CIDATA with `meta-data`
 * (instance id, hostname), `user-data` (`#cloud-config`: the login user with a SHA-512
 * crypt password hash, password SSH, a sudoer when not root, fstab entries for data
 * disks) and `network-config` (netplan v2, one MAC-matched entry per NIC: static when
 * the NIC has an address, DHCP otherwise). Attached on the first boot only (cloud-init
 * reads it once; later boots keep what it configured). The documents are built as data and
 * serialised by a YAML library, so no value can break out of its field.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { run } from '@cocoon/common/exec';
import type { NetworkConfig, StorageConfig } from '@cocoon/common/schemas/vm';
import { VIRTIO_SERIAL_VISIBLE } from './data-disks.ts';

export interface SeedInput {
  instanceId: string;
  hostname: string;
  /** Login user (`root` by default). */
  user: string;
  /** SHA-512 crypt hash of the password (`passwordHash`); the password itself never reaches the seed. */
  passwordHash: string;
  nics: readonly NetworkConfig[];
  dns: readonly string[];
  /** Data disks (their mount points become fstab entries). */
  disks: readonly StorageConfig[];
}

/** The three NoCloud documents for a VM. */
export function seedFiles(input: SeedInput): Record<string, string> {
  return {
    'meta-data': stringify({ 'instance-id': input.instanceId, 'local-hostname': input.hostname }),
    'user-data': `#cloud-config\n${stringify(userData(input))}`,
    'network-config': stringify(networkConfig(input.nics, input.dns)),
  };
}

function userData(input: SeedInput): Record<string, unknown> {
  const root = input.user === 'root';
  const mounts = input.disks
    .filter((d) => d.role === 'data' && d.mount_point && d.fstype === 'ext4')
    // nofail: a missing or damaged data disk must not keep the guest from booting.
    .map((d) => [`/dev/disk/by-id/virtio-${d.serial.slice(0, VIRTIO_SERIAL_VISIBLE)}`, d.mount_point, d.fstype, 'defaults,nofail', '0', '2']);
  return {
    hostname: input.hostname,
    preserve_hostname: false,
    ...(root
      ? { disable_root: false }
      : { users: ['default', { name: input.user, groups: ['sudo'], sudo: 'ALL=(ALL) NOPASSWD:ALL', shell: '/bin/bash', lock_passwd: false }] }),
    chpasswd: { expire: false, users: [{ name: input.user, password: input.passwordHash, type: 'hash' }] },
    ssh_pwauth: true,
    ...(mounts.length ? { mounts } : {}),
  };
}

/** netplan v2 (cloud-init's network-config version 2), NICs matched by MAC. */
export function networkConfig(nics: readonly NetworkConfig[], dns: readonly string[]): Record<string, unknown> {
  const ethernets: Record<string, unknown> = {};
  nics.forEach((nic, i) => {
    const net = nic.network;
    const entry: Record<string, unknown> = { match: { macaddress: nic.mac }, 'set-name': `eth${i}` };
    if (net?.ip) {
      entry.addresses = [`${net.ip}/${net.prefix ?? 24}`];
      // One default route: the first NIC's with a gateway (two of equal metric would fight).
      if (net.gateway && i === nics.findIndex((n) => n.network?.gateway)) entry.routes = [{ to: '0.0.0.0/0', via: net.gateway }];
      if (dns.length) entry.nameservers = { addresses: [...dns] };
    } else {
      entry.dhcp4 = true;
    }
    ethernets[`eth${i}`] = entry;
  });
  return { version: 2, ethernets };
}

/** SHA-512 crypt of `password` (`openssl passwd -6`, password on stdin: never in an argv or a log). */
export async function hashPassword(password: string): Promise<string> {
  const { stdout } = await run('openssl', ['passwd', '-6', '-stdin'], { input: `${password}\n` });
  const hash = stdout.trim();
  if (!/^\$6\$[^$]+\$[./0-9A-Za-z]+$/.test(hash)) throw new Error('Assertion failed: openssl passwd -6 printed no SHA-512 crypt hash');
  return hash;
}

/** Writes the CIDATA disk image at `path` (removed again on failure). */
export async function createSeedDisk(path: string, input: SeedInput): Promise<void> {
  const staging = await mkdtemp(join(dirname(path), '.cidata-'));
  try {
    const files = seedFiles(input);
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
