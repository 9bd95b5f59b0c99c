/**
 * The NoCloud seed for cloud images: a small FAT disk labelled CIDATA with `meta-data`,
 * `user-data` and `network-config`, attached on the first boot only (cloud-init reads it
 * once; later boots keep what it configured).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { run } from '@cocoon/common/exec';

export interface SeedInput {
  instanceId: string;
  hostname: string;
}

/** The three NoCloud documents for a VM (no NICs yet: an empty network config). */
export function seedFiles(input: SeedInput): Record<string, string> {
  return {
    'meta-data': `instance-id: ${input.instanceId}\nlocal-hostname: ${input.hostname}\n`,
    'user-data': `#cloud-config\nhostname: ${input.hostname}\npreserve_hostname: false\n`,
    'network-config': 'version: 2\nethernets: {}\n',
  };
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
