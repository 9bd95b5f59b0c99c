/**
 * The `reseed` frame (the Go agent's, same wire format): after a clone or restore, every
 * copy of a snapshot resumes with the same kernel CRNG state and the same machine id. The
 * host's entropy is mixed in (RNDADDENTROPY) and the CRNG reseeded (RNDRESEEDCRNG) through
 * the native addon; a saved systemd seed is dropped; `/etc/machine-id` is rewritten on
 * request (not derived from SMBIOS, which every clone shares). Each step is attempted; the
 * answer is `exit` 0, or one `error` naming what failed.
 */
import { chmodSync, closeSync, constants, lstatSync, openSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { errnoCode } from '@cocoon/common/errors';
import { native } from '@cocoon/common/native';
import type { AgentFrame, ReseedFrame } from '@cocoon/common/schemas/agent';

const URANDOM = '/dev/urandom';
const SYSTEMD_SEED = '/var/lib/systemd/random-seed';
const MACHINE_ID = '/etc/machine-id';
const DBUS_MACHINE_ID = '/var/lib/dbus/machine-id';

/** Paths, replaceable by tests. */
export interface ReseedPaths {
  urandom: string;
  systemdSeed: string;
  machineId: string;
  dbusMachineId: string;
}

const GUEST: ReseedPaths = { urandom: URANDOM, systemdSeed: SYSTEMD_SEED, machineId: MACHINE_ID, dbusMachineId: DBUS_MACHINE_ID };

/** Runs a reseed request and returns the terminal frame to send. */
export function runReseed(frame: ReseedFrame, paths: ReseedPaths = GUEST): AgentFrame {
  const errors: string[] = [];
  const entropy = Buffer.from(frame.data ?? '', 'base64');
  try {
    const fd = openSync(paths.urandom, constants.O_WRONLY);
    try {
      const rc = native().rndReseed(fd, entropy);
      if (rc < 0) errors.push(`${paths.urandom}: reseed ioctl failed (errno ${-rc})`);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    errors.push(`${paths.urandom}: ${(err as Error).message}`);
  } finally {
    entropy.fill(0);
  }
  attempt(errors, () => rmSync(paths.systemdSeed, { force: true }));
  if (frame.regen_machine_id) attempt(errors, () => regenMachineId(paths));
  return errors.length ? { type: 'error', message: `reseed: ${errors.join('; ')}` } : { type: 'exit', exit_code: 0 };
}

function attempt(errors: string[], fn: () => void): void {
  try {
    fn();
  } catch (err) {
    errors.push((err as Error).message);
  }
}

/** A fresh random machine id, where the image has one; a stale D-Bus copy is dropped. */
function regenMachineId(paths: ReseedPaths): void {
  if (!statSync(paths.machineId, { throwIfNoEntry: false })) return;
  // NOTE: from the kernel, just reseeded: this process's own CSPRNG (OpenSSL's, behind
  // crypto.randomBytes) was restored from the snapshot too, and is the same in every clone.
  const id = Buffer.alloc(16);
  const fd = openSync(paths.urandom, 'r');
  try {
    readSync(fd, id, 0, 16, null);
  } finally {
    closeSync(fd);
  }
  writeFileSync(paths.machineId, `${id.toString('hex')}\n`, { mode: 0o444 });
  chmodSync(paths.machineId, 0o444);
  try {
    if (lstatSync(paths.dbusMachineId).isFile()) rmSync(paths.dbusMachineId);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
}
