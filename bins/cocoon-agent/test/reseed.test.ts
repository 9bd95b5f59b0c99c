/**
 * The `reseed` frame's guest side on temporary paths (the real /dev/urandom of the machine
 * running the tests is left alone; a guest does it for real in test/e2e/snapshot.test.ts):
 * the Go agent's wire format parses, the machine id is rewritten from the CRNG device, the
 * saved seeds and a stale D-Bus id go, and a failed ioctl is reported, not hidden.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { HostFrameSchema } from '@cocoon/common/schemas/agent';
import { runReseed } from '../src/server/reseed.ts';

const dir = mkdtempSync(join(tmpdir(), 'cocoon-reseed-'));
after(() => rmSync(dir, { recursive: true, force: true }));

it('parses the Go agent\'s reseed frame', () => {
  const frame = HostFrameSchema.parse(JSON.parse('{"type":"reseed","data":"AAECAw==","regen_machine_id":true}'));
  assert.equal(frame.type, 'reseed');
});

it('regenerates the machine id from the random device, drops saved seeds, reports a failed ioctl', () => {
  const paths = { urandom: join(dir, 'urandom'), systemdSeed: join(dir, 'random-seed'), machineId: join(dir, 'machine-id'), dbusMachineId: join(dir, 'dbus-machine-id') };
  writeFileSync(paths.urandom, Buffer.alloc(64, 0x5a));
  writeFileSync(paths.systemdSeed, 'old seed');
  writeFileSync(paths.machineId, 'c0c00000000000000000000000000001\n');
  writeFileSync(paths.dbusMachineId, 'c0c00000000000000000000000000001\n');
  const frame = HostFrameSchema.parse({ type: 'reseed', data: Buffer.alloc(32, 1).toString('base64'), regen_machine_id: true });
  assert.equal(frame.type, 'reseed');
  const answer = runReseed(frame as Extract<typeof frame, { type: 'reseed' }>, paths);
  // A regular file is not a random device: the ioctl fails, and says so.
  assert.equal(answer.type, 'error');
  assert.match(answer.type === 'error' ? answer.message : '', /reseed ioctl failed \(errno 25\)/);
  assert.equal(readFileSync(paths.machineId, 'utf8'), `${'5a'.repeat(16)}\n`);
  assert.equal(statSync(paths.machineId).mode & 0o777, 0o444);
  assert.ok(!existsSync(paths.dbusMachineId), 'the stale D-Bus copy is gone');
  assert.ok(!existsSync(paths.systemdSeed), 'the saved systemd seed is gone');
});

it('leaves an image without /etc/machine-id without one', () => {
  const paths = { urandom: join(dir, 'urandom'), systemdSeed: join(dir, 'none-seed'), machineId: join(dir, 'no-machine-id'), dbusMachineId: join(dir, 'no-dbus') };
  runReseed({ type: 'reseed', regen_machine_id: true }, paths);
  assert.ok(!existsSync(paths.machineId));
});
