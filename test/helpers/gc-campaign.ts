/**
 * The crash campaign of the operations issue: SIGKILL a cocoon command at a random moment,
 * run `cocoon gc`, and require that the store is whole and clean, then that the same command
 * succeeds. After every kill + gc:
 * - every index parses with its schema;
 * - no referenced blob is missing (an image's layer disks and boot files, a VM's disks);
 * - nothing is left that the GC should have taken: no `creating` record (its creator is
 *   dead), no run, log or lock file without a VM record, no temp file, no store file no
 *   record uses, no network record without a VM, no process of the store that no VM owns.
 *
 * Targets have the shape of the hardening issue's kill campaign (test/helpers/kill-campaign.ts
 * on its branch: name, prepare, stdinFile, retryOk, cleanup), so this runner's checks can
 * become a hook of that one when it lands in main.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { z } from 'zod';
import { NetRecordSchema } from '@cocoon/common/schemas/net';
import { ImageRecordSchema } from '@cocoon/common/schemas/image';
import { VmRecordSchema, type VmRecord } from '@cocoon/common/schemas/vm';

export interface CampaignEnv {
  bin: string;
  env: { COCOON_ROOT_DIR: string; COCOON_RUN_DIR: string; COCOON_LOG_DIR: string };
}

export interface RunResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface KillTarget {
  name: string;
  /**
   * Run this tool's executable (`cocoon-image` …) instead of `cocoon`: the front end spawns
   * the tool as a child, so killing the front end would leave the tool working.
   */
  tool?: string;
  /** Prepares a round and returns the argv after `cocoon`. */
  prepare(): Promise<string[]>;
  stdinFile?: string;
  /** Whether the retry's result counts as success (default: exit 0). */
  retryOk?(r: RunResult): boolean;
  cleanup?(): Promise<void>;
}

export interface Round {
  target: string;
  delayMs: number;
  killed: boolean;
  gc: RunResult;
  violations: string[];
}

/** Runs `cocoon argv…`; with `killAfterMs`, SIGKILLs it then (if still running). */
export async function runCocoon(c: CampaignEnv, argv: string[], opts: { stdinFile?: string; killAfterMs?: number; tool?: string } = {}): Promise<RunResult & { killed: boolean }> {
  const t0 = Date.now();
  const child = execa(opts.tool ? join(dirname(c.bin), opts.tool) : c.bin, argv, { env: c.env, reject: false, timeout: 600_000, ...(opts.stdinFile ? { inputFile: opts.stdinFile } : { stdin: 'ignore' }) });
  let killed = false;
  const timer = opts.killAfterMs === undefined ? null : setTimeout(() => (killed = child.kill('SIGKILL')), opts.killAfterMs);
  const r = await child;
  if (timer) clearTimeout(timer);
  return { code: r.exitCode ?? null, signal: r.signal ?? null, stdout: String(r.stdout), stderr: String(r.stderr), ms: Date.now() - t0, killed: killed && r.signal === 'SIGKILL' };
}

const FileOf = <T extends z.ZodType>(item: T) => z.object({ version: z.number(), items: z.record(z.string(), item) });

/** The records of an index file ([] when absent); a parse failure is a violation. */
function readIndex<T extends z.ZodType>(file: string, item: T, out: string[]): Array<z.infer<T>> {
  if (!existsSync(file)) return [];
  try {
    const doc = FileOf(item).safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (doc.success) return Object.values(doc.data.items);
    out.push(`${file} does not parse: ${doc.error.issues[0]?.message ?? 'invalid'}`);
  } catch (err) {
    out.push(`${file} is not JSON: ${(err as Error).message}`);
  }
  return [];
}

const ls = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);
const ID = /^[0-9a-f]{32}$/;

/** Live processes whose environment names this store's root, with their argv. */
function storeProcesses(root: string): Array<{ pid: number; argv: string[] }> {
  const want = `COCOON_ROOT_DIR=${root}`;
  const found: Array<{ pid: number; argv: string[] }> = [];
  for (const entry of ls('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3))) continue;
      if (!readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(want)) continue;
      found.push({ pid, argv: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean) });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Everything that must hold after a kill and a `cocoon gc`. */
export function storeViolations(c: CampaignEnv): string[] {
  const { COCOON_ROOT_DIR: root, COCOON_RUN_DIR: run, COCOON_LOG_DIR: log } = c.env;
  const out: string[] = [];
  const vms: VmRecord[] = readIndex(join(root, 'vms', 'index.json'), VmRecordSchema, out);
  const images = readIndex(join(root, 'images', 'index.json'), ImageRecordSchema, out);
  const nets = readIndex(join(root, 'networks', 'index.json'), NetRecordSchema, out);
  const ids = new Set(vms.map((v) => v.id));
  // Referenced blobs are present.
  const blobs = join(root, 'images', 'blobs', 'sha256');
  const used = new Set<string>();
  for (const img of images) {
    for (const l of img.layers) {
      const hex = l.digest.slice(7);
      used.add(hex);
      if (!existsSync(join(blobs, `${hex}.erofs`)) && !existsSync(join(blobs, `${hex}.qcow2`))) out.push(`image ${img.name}: layer ${hex.slice(0, 12)} has no disk`);
    }
    if (img.boot && !existsSync(join(root, 'images', 'boot', img.boot.layer.slice(7), img.boot.kernel))) out.push(`image ${img.name}: kernel missing`);
  }
  for (const vm of vms) {
    if (vm.state === 'creating') out.push(`VM ${vm.config.name} left in creating`);
    for (const d of vm.storage_configs) if (!existsSync(d.path)) out.push(`VM ${vm.config.name}: disk ${d.path} missing`);
    for (const d of vm.storage_configs) if (d.path.startsWith(blobs)) used.add(d.path.slice(blobs.length + 1, blobs.length + 65));
  }
  // Nothing the GC should have taken.
  for (const name of ls(blobs)) if (!used.has(name.slice(0, 64))) out.push(`store file ${name} that nothing uses`);
  for (const name of ls(join(root, 'images', 'boot'))) if (!used.has(name)) out.push(`boot dir ${name} that nothing uses`);
  // Per-VM dirs are this root's when they carry its mark (cocoon-root), as gc judges them.
  const ours = (dir: string) => existsSync(join(dir, 'cocoon-root')) && readFileSync(join(dir, 'cocoon-root'), 'utf8').trim() === root;
  for (const d of ls(run)) if (ID.test(d) && !ids.has(d) && ours(join(run, d))) out.push(`run dir ${d} without a record`);
  for (const d of ls(log)) if (ID.test(d) && !ids.has(d) && ours(join(log, d))) out.push(`log dir ${d} without a record`);
  for (const f of ls(join(root, 'locks', 'vms'))) if (!ids.has(f.slice(0, 32))) out.push(`lock file ${f} without a record`);
  for (const n of nets) if (!ids.has(n.id)) out.push(`network of VM ${n.id.slice(0, 12)} without a VM record`);
  for (const t of ls(join(root, 'tmp'))) out.push(`temp entry tmp/${t}`);
  for (const dir of ['images', 'vms', 'networks', 'snapshots', 'images/blobs/sha256']) {
    for (const t of ls(join(root, dir))) if (/\.tmp-/.test(t)) out.push(`half-written file ${dir}/${t}`);
  }
  const runDirs = [...ids].map((id) => join(run, id));
  for (const p of storeProcesses(root)) {
    if (!p.argv.some((a) => runDirs.some((d) => a.includes(`${d}/`)))) out.push(`process ${p.pid} (${p.argv.slice(0, 3).join(' ')}) belongs to no VM record`);
  }
  return out;
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
 * Kill rounds per target (interleaved) until each target's command was killed mid-way
 * `kills` times (at most 3× that many rounds): prepare, run, SIGKILL at a random moment
 * within 90 % of the command's calibrated duration, `cocoon gc`, check the store, run the
 * command again. A run that finished before its kill still gets the checks.
 */
export async function runGcCampaign(c: CampaignEnv, targets: KillTarget[], kills: number, seed = Number(process.env.KILL_CAMPAIGN_SEED ?? Date.now() % 2 ** 31)): Promise<{ seed: number; rounds: Round[]; calibrationMs: Record<string, number> }> {
  const random = seeded(seed);
  const calibrationMs: Record<string, number> = {};
  for (const t of targets) {
    const r = await runCocoon(c, await t.prepare(), { stdinFile: t.stdinFile, tool: t.tool });
    if (r.code !== 0) throw new Error(`calibration run of ${t.name} failed (exit ${r.code}): ${r.stderr.trim()}`);
    calibrationMs[t.name] = r.ms;
    await t.cleanup?.();
  }
  const out: Round[] = [];
  const landed = (t: KillTarget) => out.filter((r) => r.target === t.name && r.killed).length;
  for (let i = 0; i < kills * 3; i++) {
    const due = targets.filter((t) => landed(t) < kills);
    if (due.length === 0) break;
    for (const t of due) {
      const delayMs = Math.round(random() * 0.9 * (calibrationMs[t.name] ?? 1000));
      const argv = await t.prepare();
      const first = await runCocoon(c, argv, { stdinFile: t.stdinFile, killAfterMs: delayMs, tool: t.tool });
      const gc = await runCocoon(c, ['gc']);
      const violations = gc.code === 0 ? storeViolations(c) : [`cocoon gc failed (exit ${gc.code}): ${gc.stderr.trim()}`];
      const retry = await runCocoon(c, argv, { stdinFile: t.stdinFile, tool: t.tool });
      if (!(t.retryOk ?? ((r: RunResult) => r.code === 0))(retry)) violations.push(`retry failed (exit ${retry.code}): ${retry.stderr.trim()}`);
      out.push({ target: t.name, delayMs, killed: first.killed, gc, violations });
      await t.cleanup?.();
    }
  }
  return { seed, rounds: out, calibrationMs };
}

/** One line per target. */
export function summarize(report: { seed: number; rounds: Round[]; calibrationMs: Record<string, number> }): string {
  const lines = [`crash campaign (seed ${report.seed}):`];
  for (const name of Object.keys(report.calibrationMs)) {
    const rs = report.rounds.filter((r) => r.target === name);
    const removed = rs.reduce((n, r) => n + (/^freed (\d+)/m.exec(r.gc.stdout)?.[1] ? Number(/^freed (\d+)/m.exec(r.gc.stdout)?.[1]) : 0), 0);
    lines.push(`  ${name}: ${rs.length} rounds, ${rs.filter((r) => r.killed).length} killed mid-way (uncut run ${report.calibrationMs[name]} ms), gc removed ${removed} leftovers, ${rs.reduce((n, r) => n + r.violations.length, 0)} violations`);
  }
  return lines.join('\n');
}
