/**
 * A real cloud-init guest on QEMU: a UEFI-bootable Debian disk built offline from Debian
 * packages (test/helpers/cloud-guest.ts: systemd-boot on an EFI system partition, Debian's
 * cloud kernel, systemd, netplan and Debian's own `cloud-init` package), imported as a cloud
 * image, booted through OVMF under TCG with cocoon's NoCloud seed and one NIC on a CNI
 * network. The namespace `cdr-h-<pid>` plays the host (cocoon runs in it through
 * `nsenter --net`); the machine's own network namespace is never touched.
 *
 * Proven on the guest's serial console (cocoon's console log): cloud-init finished from the
 * NoCloud datasource, its network table shows the seed's address on the seed's MAC, agetty
 * prints the seed's hostname and eth0's address. Proven inside (cocoon's agent is baked in):
 * the hostname, address and default route, the user with the password hash, passwordless
 * sudo, sshd's password login, and the data disk mounted from the seed's `mounts`.
 * One guest, booted once (about a minute and a half under TCG).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { VmInspectSchema, type VmInspect } from '@cocoon/common/schemas/vm';
import { buildCloudGuest } from '../helpers/cloud-guest.ts';
import { cocoon as cocoonHere, ok, requireTools } from '../helpers/cocoon.ts';
import { addNs, cocoonIn, delNs, inNs, okIn, writeConflist } from '../helpers/netns.ts';

const H = `cdr-h-${process.pid}`;
const scratch = mkdtempSync(join(tmpdir(), 'cocoon-cloud-init-'));
const conf = join(scratch, 'conf');
const netEnv = { COCOON_CNI_CONF_DIR: conf };
const IMAGE = `cloud-init-e2e-${process.pid}`;
const VM = `cinit-${process.pid}`;
const [USER, PASSWORD] = ['alice', 'e2e-Secret-1'];
const GW = '198.18.48.1';
const cocoon = (args: string[], timeoutMs?: number) => okIn(H, args, netEnv, timeoutMs);
const inGuest = async (script: string) => (await cocoon(['vm', 'exec', VM, '--', 'sh', '-c', script], 240_000)).trim();

/** Polls the console log until `pattern` matches (the log keeps what came before the test looked). */
async function consoleShows(vm: VmInspect, pattern: RegExp, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = existsSync(vm.runtime.consoleLog) ? readFileSync(vm.runtime.consoleLog, 'latin1') : '';
    if (pattern.test(text)) return text;
    if (Date.now() > deadline) throw new Error(`${pattern} not on the console within ${timeoutMs} ms; last output:\n${text.slice(-3000)}`);
    await sleep(1000);
  }
}

describe('a real cloud-init guest: UEFI, Debian cloud-init, the NoCloud seed, one NIC (QEMU/TCG)', () => {
  let vm: VmInspect;
  let ip: string;

  before(async () => {
    requireTools();
    const disk = await buildCloudGuest(scratch);
    await ok(['image', 'import', IMAGE, disk]);
    rmSync(disk, { force: true });
    await addNs(H);
    writeConflist(conf, { name: 'cdr', bridge: 'cdrbr0', subnet: '198.18.48.0/24', portmap: false });
    await cocoon(['vm', 'run', '--wait', '--wait-timeout', '180', '--name', VM, '--cpu', '2', '--memory', '1G', '--user', USER, '--password', PASSWORD,
      '--data-disk', 'size=64M,name=scratch,mount=/mnt/scratch', IMAGE]);
    vm = VmInspectSchema.parse(JSON.parse(await cocoon(['vm', 'inspect', VM])));
    ip = vm.network_configs?.[0]?.network?.ip ?? '';
    assert.match(ip, /^198\.18\.48\.\d+$/);
  });
  after(async () => {
    await cocoonIn(H, ['vm', 'rm', '--force', VM], netEnv);
    await cocoonHere(['image', 'rm', '--force', IMAGE]);
    await delNs(H);
    rmSync(scratch, { recursive: true, force: true });
  });

  it('shows on its console that cloud-init ran from the seed: its address on its MAC, its hostname and address at the login prompt', async () => {
    const text = await consoleShows(vm, /Cloud-init v\. \S+ finished at .*/, 180_000);
    assert.match(text, /Datasource DataSourceNoCloud \[seed=\/dev\/vd[a-z]\]/, 'the NoCloud seed was the datasource');
    const mac = vm.network_configs?.[0]?.mac ?? '';
    assert.match(text, new RegExp(`ci-info: \\|\\s+eth0\\s+\\|\\s+True\\s+\\|\\s+${ip.replaceAll('.', '\\.')}\\s+\\|\\s+255\\.255\\.255\\.0\\s+\\|\\s+global\\s+\\|\\s+${mac}\\s+\\|`), 'cloud-init network table');
    assert.match(text, new RegExp(`${VM} ttyS0  eth0: ${ip.replaceAll('.', '\\.')}`), 'agetty: hostname and the address of eth0');
    assert.match(text, new RegExp(`\\n${VM} login: `), 'the login prompt carries the seed hostname');
  });

  it('applied the whole seed inside the guest: hostname, address, route, user, password hash, sudo, sshd, data disk', async () => {
    assert.match(await inGuest('cloud-init status --wait --long'), /status: done[\s\S]*DataSourceNoCloud/);
    assert.equal(await inGuest('hostname'), VM);
    assert.match(await inGuest('ip -4 -o addr show dev eth0'), new RegExp(`inet ${ip.replaceAll('.', '\\.')}/24 `));
    assert.match(await inGuest('ip route show default'), new RegExp(`^default via ${GW.replaceAll('.', '\\.')} dev eth0`));
    assert.match(await inGuest(`id ${USER}`), /\(sudo\)/);
    const hash = (await inGuest(`getent shadow ${USER}`)).split(':')[1] ?? '';
    const salt = hash.split('$')[2] ?? '';
    const expected = (await execa('openssl', ['passwd', '-6', '-salt', salt, '-stdin'], { input: PASSWORD })).stdout.trim();
    assert.equal(hash, expected, 'the seed carried the hash of --password');
    assert.match(await inGuest(`sudo -n -u ${USER} sudo -n true && echo sudo-ok`), /sudo-ok/);
    assert.match(await inGuest('sshd -T | grep -i "^passwordauthentication"'), /passwordauthentication yes/);
    assert.equal(await inGuest('findmnt -n -o FSTYPE /mnt/scratch && echo data > /mnt/scratch/f && cat /mnt/scratch/f'), 'ext4\ndata');
    assert.equal((await inNs(H, ['busybox', 'ping', '-c', '1', '-W', '5', ip], { reject: false })).code, 0, `ping ${ip} from the host side`);
  });

  it('stops through the ACPI power button; the seed was attached on the first boot only; rm removes its disks', async () => {
    const stop = await cocoonIn(H, ['vm', 'stop', VM], netEnv);
    assert.equal(stop.code, 0, stop.stderr);
    assert.doesNotMatch(stop.stderr, /SIGTERM|SIGKILL/, 'the guest powered off by itself');
    const after = VmInspectSchema.parse(JSON.parse(await cocoon(['vm', 'inspect', VM])));
    assert.equal(after.state, 'stopped');
    assert.equal(after.first_booted, true);
    const argv = JSON.parse(await cocoon(['vm', 'debug', '--format', 'json', VM])) as string[];
    assert.ok(argv.some((a) => a.includes('if=pflash') && a.includes('OVMF_CODE')), 'UEFI firmware');
    assert.ok(!argv.some((a) => a.includes('serial=cidata')), 'no seed after the first boot');
    await cocoon(['vm', 'rm', VM]);
    assert.equal(existsSync(vm.runtime.runDir), false);
  });
});
