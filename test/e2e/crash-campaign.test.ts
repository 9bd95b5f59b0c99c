/**
 * Crash and concurrency campaign, on the built executables and the e2e root:
 * - `vm create`, `vm run`, `vm rm --force` (running), `image import` (file, stdin),
 *   `image pull` (a real local registry), `snapshot save` (of a running guest),
 *   `snapshot import` (an exported archive) and `cocoon gc` itself, each SIGKILLed at random
 *   moments (until CRASH_KILLS kills, 8 by default, landed mid-command: 72 in all), then `cocoon gc`, then
 *   the checks of test/helpers/gc-campaign.ts (a hook of the hardening issue's kill campaign,
 *   test/helpers/kill-campaign.ts), then the same command again;
 * - 20 parallel `vm create` with random names and 10 with one shared name while `cocoon gc`
 *   runs in a loop: no lost or duplicated record, exactly one winner for the shared name, and
 *   gc never removes the files of a VM that has a record.
 * bench/crash-campaign.sh runs a longer campaign.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { z } from 'zod';
import { VmRecordSchema } from '@cocoon/common/schemas/vm';
import { makeSmallImageTar } from '../helpers/small-image.ts';
import { BIN, cocoon, ensureDefaultImage, env, ok, requireTools } from '../helpers/cocoon.ts';
import { gcAfterKill, gcViolations } from '../helpers/gc-campaign.ts';
import { runCampaign, runCocoon, summarize, type CampaignEnv, type KillTarget } from '../helpers/kill-campaign.ts';
import { processesWithEnv } from '../helpers/leftovers.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';

/** Kills that land mid-command, per command (9 commands × 8 = 72 in CI). */
const KILLS = Number(process.env.CRASH_KILLS ?? 8);
const scratch = mkdtempSync(join(tmpdir(), 'cocoon-crash-'));
const c: CampaignEnv = { bin: join(BIN, 'cocoon'), env };
const SMALL = ['--cpu', '1', '--memory', '128M', '--storage', '64M', '--nics', '0'];
let keep = new Set<string>();
let imageTar = '';
let registry: TestRegistry;
let pullRef = '';
/** The running guest `snapshot save` is killed on, and the archive `snapshot import` reads. */
let saveVm = '';
let snapTar = '';
const SNAPS = ['cc-base', 'cc-save', 'cc-imp'];

async function vms() {
  return z.array(VmRecordSchema).parse(JSON.parse(await ok(['vm', 'ls', '-o', 'json'])));
}

/** Removes (killing) every VM the campaign made. */
async function removeNew(): Promise<void> {
  const ids = (await vms()).map((v) => v.id).filter((id) => !keep.has(id));
  if (ids.length) await cocoon(['vm', 'rm', '--force', ...ids]);
}

/** Garbage for gc to collect while it is killed: an orphan run dir, an unused store file, a dead owner's temp dir. */
async function makeGarbage(): Promise<void> {
  const id = randomBytes(16).toString('hex');
  mkdirSync(join(env.COCOON_RUN_DIR, id), { recursive: true });
  writeFileSync(join(env.COCOON_RUN_DIR, id, 'cow.raw'), randomBytes(1 << 20));
  writeFileSync(join(env.COCOON_RUN_DIR, id, 'cocoon-root'), `${env.COCOON_ROOT_DIR}\n`);
  writeFileSync(join(env.COCOON_ROOT_DIR, 'images', 'blobs', 'sha256', `${randomBytes(32).toString('hex')}.erofs`), randomBytes(1 << 20));
  const dead = (await execa('sh', ['-c', 'echo $$'])).stdout.trim();
  mkdirSync(join(env.COCOON_ROOT_DIR, 'tmp', `import-${dead}-garbage`), { recursive: true });
}

/** Waits (≤ 30 s) for the guard a killed `snapshot save` leaves to finish its recovery. */
async function guardsDone(): Promise<void> {
  const guards = () => processesWithEnv('COCOON_ROOT_DIR', env.COCOON_ROOT_DIR).filter((p) => p.argv.includes('guard'));
  for (const deadline = Date.now() + 30_000; guards().length > 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
}

const targets = (): KillTarget[] => [
  { name: 'vm create', prepare: async () => ['vm', 'create', ...SMALL, 'default'], cleanup: removeNew },
  { name: 'vm run', prepare: async () => ['vm', 'run', ...SMALL, 'default'], cleanup: removeNew },
  {
    name: 'vm rm --force (running)',
    prepare: async () => ['vm', 'rm', '--force', (await ok(['vm', 'run', ...SMALL, 'default'])).trim()],
    retryOk: (r) => r.code === 0 || (r.code === 3 && /VM not found/.test(r.stderr)),
    cleanup: removeNew,
  },
  // The sub-tools themselves (the front end would leave its child working when killed).
  { name: 'image import (file)', tool: 'cocoon-image', prepare: async () => ['import', '--force', 'cc-file', imageTar] },
  { name: 'image import (stdin)', tool: 'cocoon-image', prepare: async () => ['import', '--force', 'cc-stdin', '-'], stdinFile: imageTar },
  { name: 'image pull', tool: 'cocoon-image', prepare: async () => ['pull', '--force', pullRef] },
  // The snapshot tool itself: a killed save leaves its guard to resume the VM and drop the
  // half-made snapshot; the next cocoon-snap command finishes what a killed import left.
  {
    name: 'snapshot save',
    tool: 'cocoon-snap',
    prepare: async () => ['save', '--name', 'cc-save', saveVm],
    settle: guardsDone,
    retryOk: (r) => r.code === 0 || (r.code === 4 && /already exists/.test(r.stderr)),
    cleanup: async () => void (await cocoon(['snapshot', 'rm', 'cc-save'])),
  },
  {
    name: 'snapshot import',
    tool: 'cocoon-snap',
    prepare: async () => ['import', '--name', 'cc-imp', snapTar],
    retryOk: (r) => r.code === 0 || (r.code === 4 && /already exists/.test(r.stderr)),
    cleanup: async () => void (await cocoon(['snapshot', 'rm', 'cc-imp'])),
  },
  {
    name: 'gc',
    tool: 'cocoon-gc',
    prepare: async () => {
      await makeGarbage();
      return [];
    },
  },
];

describe('crash and concurrency campaign', () => {
  before(async () => {
    requireTools();
    await ensureDefaultImage();
    keep = new Set((await vms()).map((v) => v.id));
    imageTar = await makeSmallImageTar(scratch, 'cc');
    registry = await startRegistry();
    pullRef = `${registry.host}/cc/small:1`;
    await execa('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci-archive:${imageTar}`, `docker://${pullRef}`]);
    for (const s of SNAPS) await cocoon(['snapshot', 'rm', s]);
    saveVm = (await ok(['vm', 'run', '--name', `cc-save-${process.pid}`, ...SMALL, 'default'])).trim();
    keep.add(saveVm);
    await ok(['snapshot', 'save', '--name', 'cc-base', saveVm]);
    snapTar = join(scratch, 'snap.tar');
    await ok(['snapshot', 'export', 'cc-base', '-o', snapTar]);
    assert.equal((await runCocoon(c, ['gc'])).code, 0, 'the store starts clean');
  });
  after(async () => {
    await removeNew();
    for (const s of SNAPS) await cocoon(['snapshot', 'rm', s]);
    if (saveVm) await cocoon(['vm', 'rm', '--force', saveVm]);
    await cocoon(['image', 'rm', 'cc-file', 'cc-stdin', pullRef]);
    await registry?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it(`SIGKILL at random moments, ${KILLS} per command: gc leaves a whole, clean store and the command then succeeds`, async () => {
    const tally = { removed: 0 };
    const report = await runCampaign(c, targets(), KILLS, undefined, gcAfterKill(tally));
    console.log(`${summarize(report)}\n  gc removed ${tally.removed} leftovers in all`);
    const bad = report.rounds.filter((r) => r.violations.length > 0);
    assert.deepEqual(bad.map((r) => `${r.target} killed at ${r.delayMs} ms: ${r.violations.join('; ')}`), [], `seed ${report.seed}`);
    const killed = report.rounds.filter((r) => r.killed).length;
    assert.ok(killed >= KILLS * targets().length, `only ${killed} kills landed mid-command in ${report.rounds.length} rounds`);
  });

  it('20 parallel creates with random names and 10 with one name, with gc running in a loop: one winner, no lost record, no file of a recorded VM removed', async () => {
    const shared = `cc-shared-${process.pid}`;
    let looping = true;
    const gcCodes: number[] = [];
    const gcLoop = (async () => {
      while (looping) gcCodes.push((await runCocoon(c, ['gc', '--lock-wait', '0.5'])).code ?? -1);
    })();
    const creates = [
      ...Array.from({ length: 20 }, (_, i) => runCocoon(c, ['vm', 'create', '--name', `cc-${process.pid}-${i}-${randomBytes(3).toString('hex')}`, ...SMALL, 'default'])),
      ...Array.from({ length: 10 }, () => runCocoon(c, ['vm', 'create', '--name', shared, ...SMALL, 'default'])),
    ];
    const results = await Promise.all(creates);
    looping = false;
    await gcLoop;
    const [named, same] = [results.slice(0, 20), results.slice(20)];
    assert.deepEqual(named.map((r) => r.code), Array(20).fill(0), named.map((r) => r.stderr).join(''));
    assert.deepEqual(same.map((r) => r.code).sort(), [0, ...Array(9).fill(4)], same.map((r) => r.stderr).join(''));
    for (const r of same.filter((x) => x.code === 4)) assert.match(r.stderr, /already exists/);
    const made = (await vms()).filter((v) => !keep.has(v.id));
    const ids = [...named, ...same].filter((r) => r.code === 0).map((r) => r.stdout.trim());
    assert.deepEqual(made.map((v) => v.id).sort(), [...ids].sort(), 'every winner recorded once, nothing else');
    assert.equal(new Set(made.map((v) => v.config.name.toLowerCase())).size, made.length, 'no duplicate name');
    for (const vm of made) {
      assert.equal(vm.state, 'created');
      for (const d of vm.storage_configs) assert.ok(existsSync(d.path), `${vm.config.name}: ${d.path} still there`);
    }
    assert.ok(gcCodes.length > 0 && gcCodes.every((code) => code === 0 || code === 5), `gc exits 0 or 5 (skipped while busy): ${gcCodes.join(',')}`);
    assert.equal((await runCocoon(c, ['gc'])).code, 0);
    assert.deepEqual(await gcViolations(c), []);
    await removeNew();
  });
});
