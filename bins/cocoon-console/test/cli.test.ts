/**
 * cocoon-console's command line in-process: documentation, and every refusal with its exit
 * code (bad escape chars, missing VM, stopped VM, a second session). A "running" VM here is
 * a real process whose command line names the VM's control socket (what the QEMU driver
 * verifies) with a real Unix socket server on its console path.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { vmPaths } from '@cocoon/common/hypervisor/index';
import { layoutOf } from '@cocoon/common/layout';
import { acquireLock } from '@cocoon/common/store/lock';
import { assertDocumented, runInProcess } from '@cocoon/common/testing/cli';
import { vmRecord } from '@cocoon/common/testing/fixtures';
import { vmIndex } from '@cocoon/common/vms';
import { cli } from '../src/cli.ts';

const root = mkdtempSync(join(tmpdir(), 'cocoon-console-cli-'));
const env = { COCOON_ROOT_DIR: root, COCOON_LOG_DIR: join(root, 'log'), PATH: process.env.PATH };
const layout = layoutOf({ root_dir: root, run_dir: join(root, 'run'), log_dir: join(root, 'log') });
const run = (...argv: string[]) => runInProcess(cli, 'cocoon-console', argv, env);
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

describe('cocoon-console', () => {
  it('documents its command', () => assertDocumented(cli));

  it('refuses bad escape characters with exit 2 before looking at the VM', async () => {
    for (const bad of ['^@', '^M', 'ab', 'é', '^1']) {
      const r = await run('--escape-char', bad, 'ghost');
      assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
      assert.match(r.stderr, /^cocoon-console: --escape-char: /);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    }
  });

  it('says "VM not found" (3) for a missing VM and "not running" (6) for a stopped one', async () => {
    const missing = await run('ghost');
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /VM not found/i);
    const vm = vmRecord(layout, 'idle');
    await vmIndex(layout).update((items) => void items.set(vm.id, vm));
    const stopped = await run('idle');
    assert.equal(stopped.code, 6);
    assert.match(stopped.stderr, /VM "idle" is not running \(stopped\); start it with "cocoon vm start idle"/);
  });

  it('refuses a second session with exit 5 (busy)', async () => {
    const vm = vmRecord(layout, 'busy');
    const paths = vmPaths(layout, vm.id);
    mkdirSync(paths.runDir, { recursive: true });
    // A stand-in hypervisor: a live process whose argv names the VM's control socket.
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e6)', paths.apiSocket], { stdio: 'ignore' });
    children.push(child);
    const server = createServer(() => undefined);
    await new Promise<void>((r) => server.listen(paths.consoleSocket, r));
    await vmIndex(layout).update((items) => void items.set(vm.id, { ...vm, state: 'running', pid: child.pid ?? 0 }));
    const held = await acquireLock(join(paths.runDir, 'console.lock'));
    try {
      const r = await run('busy');
      assert.equal(r.code, 5, r.stderr);
      assert.match(r.stderr, /the console of VM "busy" is attached in another session/);
    } finally {
      held.release();
      server.close();
    }
  });
});
