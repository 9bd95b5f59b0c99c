/**
 * A kill campaign: run a cocoon command, SIGKILL it at a random moment, then check what it
 * left, run the same command again, and check again. What must hold after every kill:
 * - no process carrying the store's root (a tool, its children, a hypervisor, a relay) that no
 *   VM record owns (a process is owned when its command line names a path in the run dir of a
 *   VM the index holds);
 * - after the retry: no temp file whose owner (named in the file name) is dead, no run dir
 *   without a record, every index valid JSON that its schema accepts;
 * - the retry succeeds (a target may say what else counts as success, e.g. `vm rm` of a VM the
 *   killed command had already removed answers "not found").
 *
 * Kill moments are uniform over the command's own duration, measured by one uninterrupted
 * calibration run per target, from a seeded generator (KILL_CAMPAIGN_SEED reproduces a run).
 * Reusable: a target is an argv plus optional setup, stdin and retry rule.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { z } from 'zod';
import { ImageRecordSchema } from '@cocoon/common/schemas/image';
import { VmRecordSchema } from '@cocoon/common/schemas/vm';
import { deadOwnerTemps, processesWithEnv } from './leftovers.ts';

export interface CampaignEnv {
  /** The `cocoon` executable. */
  bin: string;
  /** COCOON_ROOT_DIR, COCOON_RUN_DIR, COCOON_LOG_DIR of the store under test. */
  env: { COCOON_ROOT_DIR: string; COCOON_RUN_DIR: string; COCOON_LOG_DIR: string };
}

export interface RunResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** One kind of command to kill. */
export interface KillTarget {
  name: string;
  /**
   * Run this tool's executable (`cocoon-image`, `cocoon-gc` …) instead of `cocoon`, so the
   * kill hits the tool directly (whatever the front end's dispatch does).
   */
  tool?: string;
  /** Prepares a round (e.g. makes the VM to remove) and returns the argv after `cocoon`. */
  prepare(): Promise<string[]>;
  /** A file fed to the command's stdin. */
  stdinFile?: string;
  /** Whether the retry's result counts as success (default: exit 0). */
  retryOk?(r: RunResult): boolean;
  /** Runs after each round's checks (e.g. removes the VMs it made). */
  cleanup?(): Promise<void>;
  /**
   * Waits, after the kill and before the checks, for what the command leaves working on
   * purpose (a `snapshot save`'s guard, which resumes the VM and drops the half-made snapshot).
   */
  settle?(): Promise<void>;
}

export interface Round {
  target: string;
  delayMs: number;
  /** False when the command finished before the kill landed. */
  killed: boolean;
  retry: RunResult;
  violations: string[];
}

export interface CampaignReport {
  seed: number;
  rounds: Round[];
  calibrationMs: Record<string, number>;
}

/** Extra steps of a round (the operations issue's campaign runs `cocoon gc` after each kill). */
export interface CampaignHooks {
  /** Runs right after the kill, before the retry; returns what it found wrong. */
  afterKill?(c: CampaignEnv): Promise<string[]>;
}

/** Runs `cocoon argv…` (or `opts.tool` beside it); with `killAfterMs`, SIGKILLs it then (if still running). */
export async function runCocoon(c: CampaignEnv, argv: string[], opts: { stdinFile?: string; killAfterMs?: number; tool?: string } = {}): Promise<RunResult & { killed: boolean }> {
  const t0 = Date.now();
  const child = execa(opts.tool ? join(dirname(c.bin), opts.tool) : c.bin, argv, { env: c.env, reject: false, timeout: 600_000, ...(opts.stdinFile ? { inputFile: opts.stdinFile } : { stdin: 'ignore' }) });
  let killed = false;
  const timer = opts.killAfterMs === undefined ? null : setTimeout(() => (killed = child.kill('SIGKILL')), opts.killAfterMs);
  const r = await child;
  if (timer) clearTimeout(timer);
  return { code: r.exitCode ?? null, signal: r.signal ?? null, stdout: String(r.stdout), stderr: String(r.stderr), ms: Date.now() - t0, killed: killed && r.signal === 'SIGKILL' };
}

const SETTLE_MS = 500;

/**
 * Processes of the store that no VM record owns. A process found is looked at again after
 * `SETTLE_MS`: a child the killed command forked just before the kill (QEMU) shows the
 * command's own argv until its exec, which under load may come a few ms after the kill;
 * once exec'd it is judged by what it runs. Whatever is still unowned then is reported.
 */
export async function unownedProcesses(c: CampaignEnv): Promise<string[]> {
  const scan = () => {
    const runDirs = vmRunDirs(c);
    return processesWithEnv('COCOON_ROOT_DIR', c.env.COCOON_ROOT_DIR).filter((p) => !p.argv.some((a) => runDirs.some((d) => a.includes(`${d}/`))));
  };
  if (scan().length === 0) return [];
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  return scan().map((p) => `process ${p.pid} (${p.argv.slice(0, 3).join(' ')}) belongs to no VM record`);
}


/** What must hold once the retry ran: no dead owner's temp file, no run dir without a record, valid indexes. */
export function storeViolations(c: CampaignEnv): string[] {
  const root = c.env.COCOON_ROOT_DIR;
  const out: string[] = [];
  for (const dir of ['tmp', 'vms', 'images'].map((d) => join(root, d))) {
    for (const t of deadOwnerTemps(dir)) out.push(`temp file ${join(dir, t)} of a dead owner`);
  }
  out.push(...indexViolations(join(root, 'vms', 'index.json'), VmRecordSchema), ...indexViolations(join(root, 'images', 'index.json'), ImageRecordSchema));
  const ids = new Set(vmIds(c));
  const run = c.env.COCOON_RUN_DIR;
  if (existsSync(run)) for (const d of readdirSync(run)) if (/^[0-9a-f]{32}$/.test(d) && !ids.has(d)) out.push(`run dir ${join(run, d)} without a record`);
  return out;
}

function indexViolations(file: string, schema: z.ZodType): string[] {
  if (!existsSync(file)) return [];
  try {
    const doc = z.object({ version: z.number(), items: z.record(z.string(), schema) }).safeParse(JSON.parse(readFileSync(file, 'utf8')));
    return doc.success ? [] : [`${file}: ${doc.error.issues[0]?.message ?? 'invalid'}`];
  } catch (err) {
    return [`${file}: not JSON (${(err as Error).message})`];
  }
}

function vmIds(c: CampaignEnv): string[] {
  const file = join(c.env.COCOON_ROOT_DIR, 'vms', 'index.json');
  if (!existsSync(file)) return [];
  try {
    return Object.keys((JSON.parse(readFileSync(file, 'utf8')) as { items: object }).items);
  } catch {
    return [];
  }
}

function vmRunDirs(c: CampaignEnv): string[] {
  return vmIds(c).map((id) => join(c.env.COCOON_RUN_DIR, id));
}

/** mulberry32: a small seeded generator, so a failing campaign can be replayed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Kills each target `killsPerTarget` times at random moments (targets interleaved): prepare,
 * run, SIGKILL within the calibrated duration, check processes, retry, check the store. A
 * round whose command finished before the kill landed is checked too but not counted; a
 * target gets at most four times its kills in rounds (a command whose runs vary a lot, like a
 * pull, misses about half its kills; a machine so loaded that kills keep missing still shows
 * up as a short count, which the caller asserts).
 */
export async function runCampaign(
  c: CampaignEnv,
  targets: KillTarget[],
  killsPerTarget: number,
  seed = Number(process.env.KILL_CAMPAIGN_SEED ?? Date.now() % 2 ** 31),
  hooks: CampaignHooks = {},
): Promise<CampaignReport> {
  const random = seeded(seed);
  const calibrationMs: Record<string, number> = {};
  for (const t of targets) {
    // The shorter of two uncut runs: kill moments beyond it would often come too late.
    for (let i = 0; i < 2; i++) {
      const r = await runCocoon(c, await t.prepare(), { stdinFile: t.stdinFile, tool: t.tool });
      if (r.code !== 0) throw new Error(`calibration run of ${t.name} failed (exit ${r.code}): ${r.stderr.trim()}`);
      calibrationMs[t.name] = Math.min(calibrationMs[t.name] ?? Infinity, r.ms);
      await t.cleanup?.();
    }
  }
  const report: CampaignReport = { seed, rounds: [], calibrationMs };
  const landed = (t: KillTarget) => report.rounds.filter((r) => r.target === t.name && r.killed).length;
  const tried = (t: KillTarget) => report.rounds.filter((r) => r.target === t.name).length;
  for (let pending = targets; pending.length > 0; pending = targets.filter((t) => landed(t) < killsPerTarget && tried(t) < 4 * killsPerTarget)) {
    for (const t of pending) report.rounds.push(await killRound(c, t, Math.round(random() * (calibrationMs[t.name] ?? 1000)), hooks));
  }
  return report;
}

/** One round: run, SIGKILL after `delayMs`, check (and the hook), retry the same command, check again. */
async function killRound(c: CampaignEnv, t: KillTarget, delayMs: number, hooks: CampaignHooks): Promise<Round> {
  const argv = await t.prepare();
  const first = await runCocoon(c, argv, { stdinFile: t.stdinFile, killAfterMs: delayMs, tool: t.tool });
  await t.settle?.();
  const violations = await unownedProcesses(c);
  if (hooks.afterKill) violations.push(...(await hooks.afterKill(c)));
  const retry = await runCocoon(c, argv, { stdinFile: t.stdinFile, tool: t.tool });
  if (!(t.retryOk ?? ((r: RunResult) => r.code === 0))(retry)) violations.push(`retry of ${t.name} failed (exit ${retry.code}): ${retry.stderr.trim()}`);
  violations.push(...(await unownedProcesses(c)), ...storeViolations(c));
  await t.cleanup?.();
  return { target: t.name, delayMs, killed: first.killed, retry, violations };
}

/** One line per target: kills that landed, rounds, retries that succeeded, violations. */
export function summarize(report: CampaignReport): string {
  const lines = [`kill campaign (seed ${report.seed}):`];
  for (const name of Object.keys(report.calibrationMs)) {
    const rs = report.rounds.filter((r) => r.target === name);
    const killed = rs.filter((r) => r.killed).length;
    const bad = rs.reduce((n, r) => n + r.violations.length, 0);
    lines.push(`  ${name}: ${killed} kills landed in ${rs.length} rounds (uncut run ${report.calibrationMs[name]} ms), ${bad} violations`);
  }
  return lines.join('\n');
}
