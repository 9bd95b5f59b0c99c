/**
 * The NoCloud seed checked with the real tools: the FAT image with fsck.vfat, blkid and
 * mtools, user-data with cloud-init's own schema, network-config with cloud-init's own
 * converter (what a guest's cloud-init would render from it).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { execa } from 'execa';
import { parse } from 'yaml';
import { createSeedDisk, hashPassword, seedFiles, type SeedInput } from './cidata.ts';

const dir = mkdtempSync(join(tmpdir(), 'cocoon-cidata-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const input = (over: Partial<SeedInput> = {}): SeedInput => ({
  instanceId: 'f'.repeat(32),
  hostname: 'web-1',
  user: 'root',
  passwordHash: '$6$saltsalt$' + 'x'.repeat(86),
  nics: [
    { tap: 'tap0', mac: '02:42:c6:12:07:05', num_queues: 2, queue_size: 512, network: { ip: '10.88.0.5', gateway: '10.88.0.1', prefix: 16 } },
    { tap: 'tap1', mac: '02:42:c6:12:07:06', num_queues: 2, queue_size: 512 },
  ],
  dns: ['8.8.8.8', '1.1.1.1'],
  disks: [
    { path: '/x/data-logs.raw', ro: false, serial: 'cocoon-data-logs', role: 'data', mount_point: '/mnt/logs', fstype: 'ext4', format: 'raw' },
    { path: '/x/data-raw.raw', ro: false, serial: 'cocoon-data-raw', role: 'data', fstype: 'none', format: 'raw' },
  ],
  ...over,
});

async function cloudInitSchema(userData: string): Promise<void> {
  const file = join(dir, `user-data-${Math.random()}`);
  writeFileSync(file, userData);
  const r = await execa('cloud-init', ['schema', '--config-file', file], { reject: false });
  assert.equal(r.exitCode, 0, `cloud-init schema rejected:\n${userData}\n${r.stdout}${r.stderr}`);
}

describe('NoCloud seed', () => {
  it('hashes the password with SHA-512 crypt; the password itself appears nowhere', async () => {
    const hash = await hashPassword('s3cret pass');
    assert.match(hash, /^\$6\$/);
    const seed = join(dir, 'seed-hash.img');
    await createSeedDisk(seed, input({ passwordHash: hash }));
    const raw = readFileSync(seed);
    assert.equal(raw.includes('s3cret'), false, 'no clear password in the seed image');
    assert.equal(raw.includes(hash), true, 'the hash is there');
    // The hash really matches the password (openssl recomputes it from the salt).
    const salt = hash.split('$')[2]!;
    const again = await execa('openssl', ['passwd', '-6', '-salt', salt, '-stdin'], { input: 's3cret pass\n' });
    assert.equal(again.stdout.trim(), hash);
  });

  it('writes a FAT image labelled CIDATA that fsck, blkid and mtools accept', async () => {
    const seed = join(dir, 'seed.img');
    await createSeedDisk(seed, input());
    await execa('fsck.vfat', ['-n', seed]);
    assert.equal((await execa('blkid', ['-o', 'value', '-s', 'LABEL', seed])).stdout.trim(), 'CIDATA');
    const listing = (await execa('mdir', ['-b', '-i', seed, '::/'])).stdout;
    for (const f of ['meta-data', 'user-data', 'network-config']) assert.match(listing, new RegExp(`::/${f}$`, 'm'));
    const meta = parse((await execa('mtype', ['-i', seed, '::/meta-data'])).stdout) as Record<string, string>;
    assert.deepEqual(meta, { 'instance-id': 'f'.repeat(32), 'local-hostname': 'web-1' });
  });

  it("gives cloud-init user-data its own schema accepts: root login, or a sudoer, and fstab rows for data disks", async () => {
    const rootSeed = seedFiles(input());
    await cloudInitSchema(rootSeed['user-data']!);
    const ud = parse(rootSeed['user-data']!) as Record<string, unknown>;
    assert.equal(rootSeed['user-data']!.split('\n')[0], '#cloud-config');
    assert.deepEqual(ud.chpasswd, { expire: false, users: [{ name: 'root', password: input().passwordHash, type: 'hash' }] });
    assert.equal(ud.ssh_pwauth, true);
    assert.equal(ud.disable_root, false);
    assert.deepEqual(ud.mounts, [['/dev/disk/by-id/virtio-cocoon-data-logs', '/mnt/logs', 'ext4', 'defaults,nofail', '0', '2']], 'fstype=none is not mounted');

    const userSeed = seedFiles(input({ user: 'dev' }));
    await cloudInitSchema(userSeed['user-data']!);
    const users = (parse(userSeed['user-data']!) as { users: unknown[] }).users;
    assert.deepEqual(users[1], { name: 'dev', groups: ['sudo'], sudo: 'ALL=(ALL) NOPASSWD:ALL', shell: '/bin/bash', lock_passwd: false });
  });

  it('keeps YAML-special input inside its field', async () => {
    const files = seedFiles(input({ hostname: 'a: b', user: 'root' }));
    assert.equal((parse(files['meta-data']!) as Record<string, string>)['local-hostname'], 'a: b');
    await cloudInitSchema(files['user-data']!);
  });

  it('renders network-config that cloud-init converts to MAC-matched static and DHCP links', async () => {
    const file = join(dir, 'network-config');
    writeFileSync(file, seedFiles(input())['network-config']!);
    const out = join(dir, 'net-out');
    await execa('cloud-init', ['devel', 'net-convert', '-p', file, '-k', 'yaml', '-d', out, '-D', 'debian', '-O', 'networkd']);
    const netdir = join(out, 'etc', 'systemd', 'network');
    const units = Object.fromEntries(readdirSync(netdir).map((f) => [f, readFileSync(join(netdir, f), 'utf8')]));
    const eth0 = Object.values(units).find((u) => u.includes('Name=eth0')) ?? '';
    assert.match(eth0, /MACAddress=02:42:c6:12:07:05/);
    assert.match(eth0, /Address=10\.88\.0\.5\/16/);
    assert.match(eth0, /Gateway=10\.88\.0\.1/);
    assert.match(eth0, /DNS=8\.8\.8\.8/);
    const eth1 = Object.values(units).find((u) => u.includes('Name=eth1')) ?? '';
    assert.match(eth1, /MACAddress=02:42:c6:12:07:06/);
    assert.match(eth1, /DHCP=ipv4/);
  });

  it('has an empty network-config when the VM has no NICs', () => {
    assert.deepEqual(parse(seedFiles(input({ nics: [] }))['network-config']!), { version: 2, ethernets: {} });
  });
});
