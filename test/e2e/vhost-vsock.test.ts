/**
 * QEMU's vhost-vsock path on a host without /dev/vhost-vsock (this one): a stand-in device
 * file (COCOON_VHOST_VSOCK) makes cocoon take the path a host with the device takes: a
 * guest CID per VM allocated under the index lock, `vhost-vsock-pci` on QEMU's command line
 * and no serial port pool. QEMU itself then fails to open the real device at start, and
 * cocoon says so in one line and leaves no process behind. (The client side, AF_VSOCK to the
 * CID: bins/cocoon/src/vm/agent.test.ts.) No guest boots.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { VmRecordSchema } from '@cocoon/common/schemas/vm';
import { cocoon, ensureDefaultImage, ok, requireTools } from '../helpers/cocoon.ts';

const dir = mkdtempSync(join(tmpdir(), 'cocoon-vhost-vsock-'));
const standIn = join(dir, 'vhost-vsock');
const withDevice = { extraEnv: { COCOON_VHOST_VSOCK: standIn } };
const names = [`vsock-a-${process.pid}`, `vsock-b-${process.pid}`];

/** Live processes whose command line names `needle`. */
function processesNaming(needle: string): string[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle);
    } catch {
      return false;
    }
  });
}

describe('QEMU with vhost-vsock (a stand-in device)', () => {
  before(async () => {
    requireTools();
    await ensureDefaultImage();
    writeFileSync(standIn, '');
  });
  after(async () => {
    for (const name of names) await cocoon(['vm', 'rm', '--force', name]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives each VM its own CID and QEMU a vhost-vsock device instead of the serial pool', async () => {
    const vms = [];
    for (const name of names) {
      vms.push(VmRecordSchema.parse(JSON.parse(await ok(['vm', 'create', '--nics', '0', '--name', name, '--storage', '256M', '-o', 'json', 'default'], withDevice))));
    }
    const cids = vms.map((v) => v.vsock_cid);
    assert.ok(cids.every((c) => c !== undefined && c >= 3), `CIDs: ${cids.join(', ')}`);
    assert.equal(new Set(cids).size, cids.length, 'no two VMs share a CID');
    const argv = z.array(z.string()).parse(JSON.parse(await ok(['vm', 'debug', '--format', 'json', names[0] as string], withDevice)));
    assert.ok(argv.includes(`vhost-vsock-pci,id=vsock0,guest-cid=${cids[0]}`), argv.join(' '));
    assert.equal(argv.some((a) => a.startsWith('virtserialport')), false, 'no serial port pool');
  });

  it('a start QEMU cannot do (no real device here) fails in one line and leaves no QEMU', async () => {
    const r = await cocoon(['vm', 'start', names[0] as string], withDevice);
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /vhost-vsock/);
    const vm = VmRecordSchema.parse(JSON.parse(await ok(['vm', 'inspect', names[0] as string])));
    assert.deepEqual(processesNaming(vm.id), [], 'nothing of the VM runs');
  });
});
