/**
 * QEMU's side of snapshots, over QMP: `stop`/`cont`, and the device + RAM state written by a
 * migration. QEMU 7.2 (Debian bookworm) has no `file:` migration URI (that came in 8.2), and
 * `exec:` would hand QEMU a shell string, so the state travels over a Unix socket this process
 * listens on (`migrate uri=unix:…`) straight into the state file. A restore starts QEMU with
 * `-S -incoming fd:3`, the state file open read-only as its fd 3: QEMU reads it in place
 * (clones of one snapshot share the file and the page cache), and the guest stays paused.
 */
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ExternalError, TimeoutError } from '../../errors.ts';
import { QmpStatusSchema } from '../../schemas/qmp.ts';
import { z } from 'zod';
import type { SavedState, VmPaths } from '../index.ts';
import { QmpClient } from './qmp.ts';

/** Name of the state file in a snapshot directory. */
export const QEMU_STATE_FILE = 'vmstate.qemu';
/** No throttle: QEMU 7.2's default migration bandwidth cap is 128 MiB/s. */
const MAX_BANDWIDTH = 2 ** 40;

/** Runs `fn` on a fresh QMP connection to the VM. */
export async function withQmp<T>(paths: VmPaths, fn: (qmp: QmpClient) => Promise<T>, timeoutMs = 5000): Promise<T> {
  const qmp = await QmpClient.open(paths.apiSocket, timeoutMs);
  try {
    return await fn(qmp);
  } finally {
    qmp.close();
  }
}

/** The run state QEMU reports (`running`, `paused`, `postmigrate`, `inmigrate` …). */
export async function runState(qmp: QmpClient): Promise<{ running: boolean; status: string }> {
  return QmpStatusSchema.parse(await qmp.execute('query-status'));
}

/**
 * Streams the paused VM's state into `dir/vmstate.qemu`. A migration that fails or outlives
 * `timeoutMs` is cancelled and its partial file removed; the VM stays paused either way.
 */
export async function saveQemuState(paths: VmPaths, dir: string, timeoutMs: number): Promise<SavedState> {
  const target = join(dir, QEMU_STATE_FILE);
  const sock = join(paths.runDir, 'migrate.sock');
  await rm(sock, { force: true });
  let written: Promise<void> | undefined;
  const server = createServer({ allowHalfOpen: false }, (conn: Socket) => {
    server.close();
    written ??= pipeline(conn, createWriteStream(target, { flags: 'wx', mode: 0o600 }));
    // NOTE: a write error (ENOSPC) may come while QMP is still polled: it is awaited below.
    written.catch(() => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ path: sock, readableAll: false, writableAll: false }, () => resolve());
  });
  const deadline = Date.now() + timeoutMs;
  try {
    const disks = await withQmp(paths, async (qmp) => {
      const attached = await attachedDisks(qmp);
      await qmp.execute('migrate-set-parameters', { 'max-bandwidth': MAX_BANDWIDTH });
      await qmp.execute('migrate', { uri: `unix:${sock}` });
      await waitForMigration(qmp, deadline);
      return attached;
    });
    if (!written) throw new ExternalError('QEMU finished the migration without connecting to cocoon');
    await written;
    return { stateFile: QEMU_STATE_FILE, files: [QEMU_STATE_FILE], disks };
  } catch (err) {
    await withQmp(paths, (qmp) => qmp.execute('migrate_cancel')).catch(() => undefined);
    // The file's own error (ENOSPC …) says more than QEMU's "migration failed".
    const writeErr = await written?.then(() => undefined, (e: unknown) => e);
    await rm(target, { force: true });
    throw writeErr ?? err;
  } finally {
    server.close();
    await rm(sock, { force: true });
  }
}

/** Paths of the disks QEMU has attached, in attach order (node names `disk<i>`, see args.ts). */
async function attachedDisks(qmp: QmpClient): Promise<string[]> {
  const blocks = z.array(z.looseObject({ inserted: z.looseObject({ 'node-name': z.string(), file: z.string() }).optional() })).parse(await qmp.execute('query-block'));
  return blocks
    .flatMap((b) => {
      const m = /^disk(\d+)$/.exec(b.inserted?.['node-name'] ?? '');
      return m && b.inserted ? [{ i: Number(m[1]), file: b.inserted.file }] : [];
    })
    .sort((a, b) => a.i - b.i)
    .map((d) => d.file);
}

async function waitForMigration(qmp: QmpClient, deadline: number): Promise<void> {
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    const info = (await qmp.execute('query-migrate')) as { status?: string; 'error-desc'?: string };
    if (info.status === 'completed') return;
    if (info.status === 'failed' || info.status === 'cancelled') {
      throw new ExternalError(`QEMU could not save the VM state: ${info['error-desc'] ?? info.status}`);
    }
    if (Date.now() >= deadline) throw new TimeoutError('saving the VM state took too long (QMP migrate did not complete)');
    await sleep(delay);
  }
}

/**
 * Waits until an incoming QEMU (`-S -incoming …`) has loaded its state: the run state leaves
 * `inmigrate` for `paused`. A QEMU that cannot load the state exits (the caller sees it go).
 */
export async function waitForIncoming(paths: VmPaths, deadline: number, alive: () => boolean): Promise<void> {
  await withQmp(paths, async (qmp) => {
    for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
      const { status } = await runState(qmp);
      if (status === 'paused') return;
      if (status !== 'inmigrate' && status !== 'prelaunch') throw new ExternalError(`QEMU is in state "${status}" after loading the saved state`);
      if (!alive()) throw new ExternalError('QEMU exited while loading the saved state');
      if (Date.now() >= deadline) throw new TimeoutError('QEMU did not finish loading the saved state in time');
      await sleep(delay);
    }
  });
}
