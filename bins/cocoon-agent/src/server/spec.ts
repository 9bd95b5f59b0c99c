/**
 * Turns an `exec` frame into what a child process needs: the resolved executable, the
 * environment, the working directory and the uid/gid. Failures a shell would report
 * (command not found 127, not executable 126) become a SpawnError carrying that exit code,
 * which the session sends as one `error` frame. An unknown user, group or working directory
 * is cocoon's "not found" (3): no command ran, so no shell code fits.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { ExitCode } from '@cocoon/common/errors';
import type { ExecFrame } from '@cocoon/common/schemas/agent';

/** A command that cannot start; `exitCode` is what a shell would have returned. */
export class SpawnError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

/** Everything needed to start the child. */
export interface ChildSpec {
  file: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  uid?: number;
  gid?: number;
  tty: boolean;
  rows: number;
  cols: number;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

interface Account {
  uid: number;
  gid: number;
  name: string;
  home: string;
}

/** Reads `name:…` lines of /etc/passwd or /etc/group (absent in tiny guests: empty). */
function table(path: string): string[][] {
  try {
    return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => l.split(':'));
  } catch {
    return [];
  }
}

function resolveUser(user: string): Account {
  const [who = '', group] = user.split(':');
  const passwd = table('/etc/passwd');
  const row = /^\d+$/.test(who) ? passwd.find((r) => r[2] === who) : passwd.find((r) => r[0] === who);
  if (!row && !/^\d+$/.test(who)) throw new SpawnError(`user "${who}" not found in /etc/passwd`, ExitCode.NotFound);
  const uid = row ? Number(row[2]) : Number(who);
  let gid = row ? Number(row[3]) : uid;
  if (group !== undefined) {
    const grow = /^\d+$/.test(group) ? undefined : table('/etc/group').find((r) => r[0] === group);
    if (!grow && !/^\d+$/.test(group)) throw new SpawnError(`group "${group}" not found in /etc/group`, ExitCode.NotFound);
    gid = grow ? Number(grow[2]) : Number(group);
  }
  return { uid, gid, name: row?.[0] ?? who, home: row?.[5] || '/' };
}

function envOf(frame: ExecFrame, account: Account | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  env.PATH ??= DEFAULT_PATH;
  if (account) Object.assign(env, { HOME: account.home, USER: account.name, LOGNAME: account.name });
  if (frame.tty) env.TERM ??= 'xterm-256color';
  const extra = Array.isArray(frame.env)
    ? Object.fromEntries(frame.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]))
    : frame.env ?? {};
  return Object.assign(env, extra);
}

/** Finds `cmd` like execvp does, so a missing command is an error frame (127), not a crash. */
function lookPath(cmd: string, path: string, cwd: string): string {
  const candidates = cmd.includes('/') ? [cmd.startsWith('/') ? cmd : `${cwd}/${cmd}`] : path.split(':').map((d) => `${d || '.'}/${cmd}`);
  let denied = false;
  for (const file of candidates) {
    const st = statSync(file, { throwIfNoEntry: false });
    if (!st || st.isDirectory()) continue;
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      denied = true;
    }
  }
  if (denied) throw new SpawnError(`${cmd}: permission denied`, 126);
  throw new SpawnError(`${cmd}: command not found`, 127);
}

/** Builds the child's spec from an `exec` frame; throws SpawnError for what cannot run. */
export function childSpec(frame: ExecFrame): ChildSpec {
  const account = frame.user === undefined ? undefined : resolveUser(frame.user);
  const home = account && statSync(account.home, { throwIfNoEntry: false })?.isDirectory() ? account.home : '/';
  const cwd = frame.cwd ?? home;
  if (!statSync(cwd, { throwIfNoEntry: false })?.isDirectory()) throw new SpawnError(`working directory ${cwd}: no such directory`, ExitCode.NotFound);
  const env = envOf(frame, account);
  const [cmd = '', ...args] = frame.argv;
  return {
    file: lookPath(cmd, env.PATH ?? DEFAULT_PATH, cwd),
    args,
    env,
    cwd,
    uid: account?.uid,
    gid: account?.gid,
    tty: frame.tty === true,
    rows: frame.rows ?? 24,
    cols: frame.cols ?? 80,
  };
}
