/**
 * A CNI runtime, written to the CNI spec 1.0.0 (no npm library implements the runtime
 * side; libcni is Go): plugins are executables found in `--cni-bin-dir`, called with
 * `CNI_COMMAND`, `CNI_CONTAINERID`, `CNI_NETNS`, `CNI_IFNAME`, `CNI_PATH` (and `CNI_ARGS`)
 * in the environment and their config on stdin. A list's plugins run in order for ADD
 * (each gets the previous one's result as `prevResult`) and CHECK, in reverse for DEL
 * (with the cached ADD result). `runtimeConfig` carries only the capabilities a plugin
 * declares (`portMappings`). Results and errors are parsed with zod.
 */
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { spawn } from '@cocoon/common/exec';
import { ExternalError, MissingDependencyError } from '@cocoon/common/errors';
import { CniErrorSchema, CniResultSchema, type CniConflist, type CniPluginConf, type CniResult, type PortMapping } from '@cocoon/common/schemas/net';

const PLUGIN_TIMEOUT_MS = 60_000;

export type CniCommand = 'ADD' | 'DEL' | 'CHECK';

/** Who a list runs for: the spec's runtime parameters. */
export interface CniTarget {
  containerId: string;
  netns: string;
  ifName: string;
  /** `CNI_ARGS` (`IgnoreUnknown=1;IP=…`), if any. */
  args?: string;
  /** Capability values (`portMappings`), given to plugins that declare them. */
  runtimeConfig?: Record<string, unknown>;
}

/**
 * The capability values of NIC `i`: published ports go to the first NIC only. The same
 * values are given to ADD, CHECK and DEL (portmap removes its rules only when told the ports).
 */
export function runtimeConfigOf(publish: readonly PortMapping[], i: number): Record<string, unknown> {
  if (i !== 0 || publish.length === 0) return {};
  return { portMappings: publish.map((p) => ({ hostPort: p.host_port, containerPort: p.container_port, protocol: p.protocol, ...(p.host_ip ? { hostIP: p.host_ip } : {}) })) };
}

/**
 * The cached ADD result as CHECK is given it: TC redirect moved the veth's addresses and
 * routes into the guest, so they are left out; what CHECK still proves is the bridge, the
 * veth pair and its MAC, the IPAM lease and portmap's rules.
 */
export function checkResult(result: CniResult): CniResult {
  const { ips: _ips, routes: _routes, ...rest } = result;
  return rest;
}

/** The plugin search path: `--cni-bin-dir` is a PATH-style list. */
export function binDirs(binDir: string): string[] {
  return binDir.split(':').filter(Boolean);
}

/** The executable of plugin `type`, or a missing-dependency error naming where it looked. */
export function findPlugin(type: string, dirs: readonly string[]): string {
  for (const dir of dirs) {
    const file = join(dir, type);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // next directory
    }
  }
  throw new MissingDependencyError(`CNI plugin "${type}" not found in ${dirs.join(':')}: install the Debian package containernetworking-plugins or fix --cni-bin-dir`);
}

/** The config one plugin reads on stdin. */
export function pluginConfig(list: CniConflist, plugin: CniPluginConf, target: CniTarget, prevResult: CniResult | undefined): Record<string, unknown> {
  const conf: Record<string, unknown> = { ...plugin, cniVersion: list.cniVersion, name: list.name };
  if (prevResult) conf.prevResult = prevResult;
  const runtime = Object.entries(target.runtimeConfig ?? {}).filter(([key, value]) => value !== undefined && plugin.capabilities?.[key] === true);
  if (runtime.length > 0) conf.runtimeConfig = Object.fromEntries(runtime);
  return conf;
}

/** Runs one plugin; returns its parsed result for ADD, null otherwise. */
export async function execPlugin(command: CniCommand, list: CniConflist, plugin: CniPluginConf, target: CniTarget, dirs: readonly string[], prev?: CniResult): Promise<CniResult | null> {
  const file = findPlugin(plugin.type, dirs);
  const env: Record<string, string> = {
    CNI_COMMAND: command,
    CNI_CONTAINERID: target.containerId,
    CNI_NETNS: target.netns,
    CNI_IFNAME: target.ifName,
    CNI_PATH: dirs.join(':'),
  };
  if (target.args) env.CNI_ARGS = target.args;
  const input = JSON.stringify(pluginConfig(list, plugin, target, prev));
  const r = await spawn(file, [], { input, env, extendEnv: true, reject: false, timeout: PLUGIN_TIMEOUT_MS, stripFinalNewline: false });
  const what = `CNI plugin ${plugin.type} ${command} ${target.ifName}`;
  if (r.timedOut) throw new ExternalError(`${what} did not finish within ${PLUGIN_TIMEOUT_MS / 1000} s`);
  const stdout = String(r.stdout ?? '');
  if (r.exitCode !== 0) throw new ExternalError(`${what} failed: ${pluginError(stdout, String(r.stderr ?? ''), r.exitCode)}`);
  if (command !== 'ADD') return null;
  const parsed = CniResultSchema.safeParse(safeJson(stdout));
  if (!parsed.success) throw new ExternalError(`${what} printed no valid result: ${oneLine(stdout) || '(nothing)'}`);
  return parsed.data;
}

/** ADD through the whole list; the last result is the list's result. */
export async function addList(list: CniConflist, target: CniTarget, dirs: readonly string[]): Promise<CniResult> {
  let result: CniResult | undefined;
  for (const plugin of list.plugins) result = (await execPlugin('ADD', list, plugin, target, dirs, result)) ?? undefined;
  if (!result) throw new Error('Assertion failed: an ADD chain without a result');
  return result;
}

/** DEL through the list in reverse, best effort: every plugin is called; the failures are returned. */
export async function delList(list: CniConflist, target: CniTarget, dirs: readonly string[], cached: CniResult | undefined): Promise<string[]> {
  const errors: string[] = [];
  for (const plugin of [...list.plugins].reverse()) {
    try {
      await execPlugin('DEL', list, plugin, target, dirs, cached);
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  return errors;
}

/** CHECK through the list (skipped when the list says `disableCheck`). */
export async function checkList(list: CniConflist, target: CniTarget, dirs: readonly string[], cached: CniResult): Promise<void> {
  if (list.disableCheck) return;
  for (const plugin of list.plugins) await execPlugin('CHECK', list, plugin, target, dirs, checkResult(cached));
}

/** Fails early (before anything is made) when a plugin of the list is not installed. */
export function requirePlugins(list: CniConflist, dirs: readonly string[]): void {
  for (const plugin of list.plugins) findPlugin(plugin.type, dirs);
}

function pluginError(stdout: string, stderr: string, exitCode: number | undefined): string {
  const parsed = CniErrorSchema.safeParse(safeJson(stdout));
  if (parsed.success) return `${parsed.data.msg}${parsed.data.details ? `: ${parsed.data.details}` : ''} (code ${parsed.data.code})`;
  const text = oneLine(stderr.trim().split('\n').filter(Boolean).pop() ?? '') || oneLine(stdout);
  return `exit ${exitCode ?? '?'}${text ? `: ${text}` : ''}`;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 120 ? `${flat.slice(0, 117)}...` : flat;
}
