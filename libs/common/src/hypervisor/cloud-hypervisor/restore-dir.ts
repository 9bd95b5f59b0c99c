/**
 * What a Cloud Hypervisor restore reads: the snapshot directory's `config.json` names the
 * source VM's disks and sockets, so every VM restored from it gets its own directory under
 * its run dir: `config.json` patched (disks in attach order, the vsock and console sockets), `state.json` copied, and every other file (the
 * memory ranges) hard-linked: read in place, never copied per clone.
 */
import { copyFileSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidDataError } from '../../errors.ts';
import type { LaunchSpec } from '../index.ts';

type Json = Record<string, unknown>;

/** Makes `<run>/restore` for `spec` from snapshot directory `source`; returns its path. */
export function stageRestoreDir(spec: LaunchSpec, source: string): string {
  const dir = join(spec.paths.runDir, 'restore');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const name of readdirSync(source)) {
    if (name === 'config.json') continue;
    try {
      linkSync(join(source, name), join(dir, name));
    } catch {
      copyFileSync(join(source, name), join(dir, name));
    }
  }
  let config: Json;
  try {
    config = JSON.parse(readFileSync(join(source, 'config.json'), 'utf8')) as Json;
  } catch (err) {
    throw new InvalidDataError(`the snapshot's config.json is not readable JSON: ${(err as Error).message}`);
  }
  writeFileSync(join(dir, 'config.json'), JSON.stringify(patchConfig(config, spec)), { mode: 0o600 });
  return dir;
}

/** The saved VM config with this VM's disk paths and sockets. */
export function patchConfig(config: Json, spec: LaunchSpec): Json {
  const disks = Array.isArray(config.disks) ? (config.disks as Json[]) : [];
  if (disks.length !== spec.disks.length) throw new InvalidDataError(`the snapshot has ${disks.length} disks, this VM ${spec.disks.length}`);
  const out: Json = { ...config, disks: disks.map((d, i) => ({ ...d, path: spec.disks[i]?.path })) };
  if (config.vsock && typeof config.vsock === 'object') out.vsock = { ...(config.vsock as Json), socket: spec.paths.vsockSocket };
  for (const key of ['serial', 'console']) {
    const c = config[key] as Json | undefined;
    if (c && c.mode === 'Socket') out[key] = { ...c, socket: spec.paths.consoleSocket };
  }
  return out;
}
