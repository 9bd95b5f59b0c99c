/**
 * Calling `cocoon-net` from another tool (the front end, `cocoon-gc`): JSON on stdin and
 * stdout, parsed by the shared schemas; the caller's layout travels as `COCOON_*` variables
 * so both tools read and write the same index and conflists.
 */
import type { Layout } from '../layout.ts';
import { CocoonError, ExitCode, type ExitCodeValue } from '../errors.ts';
import { NetAddResultSchema, NetDelResultSchema, type NetAddRequest, type NetAddResult, type NetDelResult } from '../schemas/net.ts';

/** The environment that makes `cocoon-net` resolve `layout`. */
export function netEnv(layout: Layout): Record<string, string> {
  return {
    COCOON_ROOT_DIR: layout.root,
    COCOON_RUN_DIR: layout.run,
    COCOON_LOG_DIR: layout.log,
    COCOON_CNI_CONF_DIR: layout.cni.confDir,
    COCOON_CNI_BIN_DIR: layout.cni.binDir,
  };
}

/** Runs `cocoon-net args…` with `input` on stdin; its one-line error becomes ours, with its exit code. */
async function callNet(layout: Layout, args: string[], input: string): Promise<{ stdout: string; code: number; stderr: string }> {
  const [{ spawn }, { findTool }] = await Promise.all([import('../exec.ts'), import('../tools.ts')]);
  const file = findTool('cocoon-net');
  const r = await spawn(file, args, { input, env: netEnv(layout), extendEnv: true, reject: false, argv0: 'cocoon-net', stripFinalNewline: false });
  return { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), code: r.exitCode ?? ExitCode.External };
}

function rethrow(r: { code: number; stderr: string }): never {
  const line = r.stderr.trim().split('\n').filter(Boolean).pop() ?? `cocoon-net exited ${r.code}`;
  const code = (r.code >= 2 && r.code <= 10 ? r.code : ExitCode.External) as ExitCodeValue;
  throw new CocoonError(code, line.replace(/^cocoon-net: /, ''));
}

/** `cocoon-net add`: sets up (or, with `existing`, recovers) a VM's network and returns its NICs. */
export async function netAdd(layout: Layout, req: NetAddRequest): Promise<NetAddResult> {
  const r = await callNet(layout, ['add'], JSON.stringify(req));
  if (r.code !== 0) rethrow(r);
  return NetAddResultSchema.parse(JSON.parse(r.stdout));
}

/** `cocoon-net del`: tears down the networks of `ids`, best effort; what failed is in `failed`. */
export async function netDel(layout: Layout, ids: readonly string[]): Promise<NetDelResult> {
  const r = await callNet(layout, ['del', '--output', 'json', ...ids], '');
  try {
    return NetDelResultSchema.parse(JSON.parse(r.stdout));
  } catch {
    rethrow(r);
  }
}
