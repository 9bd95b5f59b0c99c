/**
 * Helpers for the end-to-end suites: run the BUILT executables (dist/bin) against a
 * shared e2e root (the default guest is built into it once and reused by every suite).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

export const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const BIN = join(REPO, 'dist', 'bin');
/** Shared across e2e suites so the default guest is built once (see .gitignore). */
export const E2E_ROOT = process.env.COCOON_E2E_ROOT ?? join(REPO, 'test', '.work');
export const READY_MARKER = 'cocoon: guest ready';

export const env = {
  COCOON_ROOT_DIR: join(E2E_ROOT, 'root'),
  COCOON_RUN_DIR: join(E2E_ROOT, 'run'),
  COCOON_LOG_DIR: join(E2E_ROOT, 'log'),
  // No conflist unless a suite brings its own: the machine's /etc/cni/net.d is not the tests' business.
  COCOON_CNI_CONF_DIR: join(E2E_ROOT, 'cni-none'),
};

/** Fails with a message naming what is missing, never skips. */
export function requireTools(): void {
  if (!existsSync(join(BIN, 'cocoon'))) throw new Error(`${BIN}/cocoon is missing: run "npm run build" first`);
  for (const [tool, pkg] of [['qemu-system-x86_64', 'qemu-system-x86'], ['mke2fs', 'e2fsprogs'], ['mkfs.erofs', 'erofs-utils']]) {
    const found = (process.env.PATH ?? '').split(':').some((d) => existsSync(join(d, tool!)));
    if (!found) throw new Error(`${tool} is missing: install the Debian package ${pkg} (doctor/cocoon-doctor install)`);
  }
  mkdirSync(E2E_ROOT, { recursive: true });
}

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `dist/bin/<tool> args…` with the e2e root. */
export async function cocoon(args: string[], opts: { tool?: string; input?: string; timeoutMs?: number; extraEnv?: Record<string, string> } = {}): Promise<Result> {
  const r = await execa(join(BIN, opts.tool ?? 'cocoon'), args, {
    env: { ...env, ...opts.extraEnv },
    input: opts.input ?? '',
    reject: false,
    timeout: opts.timeoutMs ?? 600_000,
  });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Runs and requires exit 0; returns stdout. */
export async function ok(args: string[], opts?: Parameters<typeof cocoon>[1]): Promise<string> {
  const r = await cocoon(args, opts);
  if (r.code !== 0) throw new Error(`cocoon ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Makes sure the default guest is in the e2e root (built once, then reused). */
export async function ensureDefaultImage(): Promise<void> {
  await ok(['image', 'build-default'], { timeoutMs: 900_000 });
}

/** Connects to a console socket and resolves with everything read once `marker` appears. */
export function waitForConsole(path: string, marker: string, timeoutMs: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    let seen = '';
    const deadline = setTimeout(() => {
      socket.destroy();
      reject(new Error(`"${marker}" not seen on ${path} within ${timeoutMs} ms; last output:\n${seen.slice(-2000)}`));
    }, timeoutMs);
    const socket = connect(path);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      seen += d;
      if (seen.includes(marker)) {
        clearTimeout(deadline);
        socket.destroy();
        resolvePromise(seen);
      }
    });
    socket.on('error', (err) => {
      clearTimeout(deadline);
      reject(err);
    });
  });
}

/** Waits until `file` (e.g. a VM's console log) contains `marker`; resolves with its text. */
export async function waitForFile(file: string, marker: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      // not written yet
    }
    if (text.includes(marker)) return text;
    if (Date.now() > deadline) throw new Error(`"${marker}" not seen in ${file} within ${timeoutMs} ms; last output:\n${text.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A long-running `dist/bin/cocoon ARGS…` (e.g. `vm status --event`): its stdout lines so far, and a stop. */
export function cocoonStream(args: string[]): { lines: () => string[]; stderr: () => string; exited: Promise<number>; stop: () => Promise<number> } {
  const child = execa(join(BIN, 'cocoon'), args, { env, reject: false, buffer: false, stdin: 'ignore' });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = child.then((r) => r.exitCode ?? -1);
  return {
    lines: () => out.split('\n').filter(Boolean),
    stderr: () => err,
    exited,
    /** SIGTERM (if still running); resolves with the exit code. */
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Polls `get` until it returns a value (not undefined). */
export async function eventually<T>(what: string, get: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
