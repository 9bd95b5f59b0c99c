/**
 * The kill campaign of the hardening issue, with the built executables on the e2e root:
 * `vm create`, `vm run`, `vm rm --force` of a running VM, `image import` from a file and from
 * stdin, each SIGKILLed at random moments (KILL_ROUNDS kills per command, 7 by default: 35
 * kills), then checked (test/helpers/kill-campaign.ts): no process the records do not own,
 * no temp file of a dead owner, valid indexes, no run dir without a record, and the same
 * command succeeding again. `bench/kill-campaign.sh` runs a longer one.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { z } from 'zod';
import { VmRecordSchema } from '@cocoon/common/schemas/vm';
import { makeSmallImageTar } from '../helpers/small-image.ts';
import { BIN, ensureDefaultImage, env, ok, requireTools } from '../helpers/cocoon.ts';
import { runCampaign, summarize, type CampaignEnv, type KillTarget } from '../helpers/kill-campaign.ts';
import { processesWithEnv } from '../helpers/leftovers.ts';

/** Kills per command: 7 × 5 commands = 35 by default. */
const KILLS = Number(process.env.KILL_ROUNDS ?? 7);
const scratch = mkdtempSync(join(tmpdir(), 'cocoon-kill-'));
const c: CampaignEnv = { bin: join(BIN, 'cocoon'), env };
const SMALL = ['--cpu', '1', '--memory', '128M', '--storage', '64M', '--nics', '0'];
let before0 = new Set<string>();
let imageTar = '';

after(async () => {
  await removeNewVms();
  await execa(c.bin, ['image', 'rm', 'kc-file', 'kc-stdin'], { env, reject: false });
  rmSync(scratch, { recursive: true, force: true });
});

async function vms(): Promise<Array<z.infer<typeof VmRecordSchema>>> {
  return z.array(VmRecordSchema).parse(JSON.parse(await ok(['vm', 'ls', '-o', 'json'])));
}

/** Removes (killing) every VM the campaign made. */
async function removeNewVms(): Promise<void> {
  const ids = (await vms()).map((v) => v.id).filter((id) => !before0.has(id));
  if (ids.length) await execa(c.bin, ['vm', 'rm', '--force', ...ids], { env, reject: false });
}

const targets = (): KillTarget[] => [
  { name: 'vm create', prepare: async () => ['vm', 'create', ...SMALL, 'default'], cleanup: removeNewVms },
  { name: 'vm run', prepare: async () => ['vm', 'run', ...SMALL, 'default'], cleanup: removeNewVms },
  {
    name: 'vm rm --force (running)',
    prepare: async () => ['vm', 'rm', '--force', (await ok(['vm', 'run', ...SMALL, 'default'])).trim()],
    // The killed rm may have finished removing it: then the retry finds nothing to remove.
    retryOk: (r) => r.code === 0 || (r.code === 3 && /VM not found/.test(r.stderr)),
    cleanup: removeNewVms,
  },
  { name: 'image import (file)', prepare: async () => ['image', 'import', '--force', 'kc-file', imageTar] },
  { name: 'image import (stdin)', prepare: async () => ['image', 'import', '--force', 'kc-stdin', '-'], stdinFile: imageTar },
];

describe('kill campaign', () => {
  before(async () => {
    requireTools();
    await ensureDefaultImage();
    before0 = new Set((await vms()).map((v) => v.id));
    imageTar = await makeSmallImageTar(scratch, 'kc');
  });

  it(`${KILLS} SIGKILLs at random moments of each command leave nothing behind that the next command does not handle`, async () => {
    const report = await runCampaign(c, targets(), KILLS);
    console.log(summarize(report));
    const bad = report.rounds.filter((r) => r.violations.length > 0);
    assert.deepEqual(bad.map((r) => `${r.target} killed at ${r.delayMs} ms: ${r.violations.join('; ')}`), [], `seed ${report.seed}`);
    const killed = report.rounds.filter((r) => r.killed).length;
    assert.ok(killed >= Math.min(30, KILLS * 5), `only ${killed} kills landed before the command finished (${report.rounds.length} rounds)`);
    for (const r of report.rounds) assert.doesNotMatch(r.retry.stderr, /^\s+at /m, 'no stack trace');
    await removeNewVms();
    const theirs = [...before0].map((id) => join(env.COCOON_RUN_DIR, id));
    const left = processesWithEnv('COCOON_ROOT_DIR', env.COCOON_ROOT_DIR).filter((p) => !p.argv.some((a) => theirs.some((d) => a.includes(d))));
    assert.deepEqual(left, [], 'every hypervisor and relay the campaign started is gone with its VM');
  });
});
