/**
 * The foundation end to end: build + import the default guest, run it under QEMU
 * (TCG here), see the readiness marker on the console socket, list it, stop it through
 * the graceful ACPI path, remove it, and check nothing is left behind.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { z } from 'zod';
import { chooseAccel } from '@cocoon/common/hypervisor/accel';
import { VmInspectSchema, VmRecordSchema } from '@cocoon/common/schemas/vm';
import { cocoon, ensureDefaultImage, env, ok, READY_MARKER, requireTools, waitForConsole } from '../helpers/cocoon.ts';


describe('vm lifecycle on the default guest', () => {
  before(async () => {
    requireTools();
    await ensureDefaultImage();
  });

  it('runs, reaches the readiness marker, lists, stops gracefully and is removed without leftovers', async () => {
    const name = `e2e-${process.pid}`;
    const id = (await ok(['vm', 'run', '--nics', '0', '--name', name, '--cpu', '1', '--memory', '512M', '--storage', '1G', 'default'])).trim();
    assert.match(id, /^[0-9a-f]{32}$/);
    const vm = VmInspectSchema.parse(JSON.parse(await ok(['vm', 'inspect', name])));
    assert.equal(vm.state, 'running');
    // What this host allows: KVM only where it runs a stock guest (chooseAccel's own tests cover the rules).
    assert.equal(vm.accel, chooseAccel('auto').accel);
    assert.match(vm.boot.cmdline, new RegExp(`cocoon\\.hostname=${name}( |$)`));
    assert.equal(vm.config.name, name);
    assert.ok(vm.pid > 0);

    const out = await waitForConsole(vm.runtime.consoleSocket, READY_MARKER, 180_000);
    assert.ok(out.includes(READY_MARKER));

    const list = z.array(VmRecordSchema).parse(JSON.parse(await ok(['vm', 'list', '--format', 'json'])));
    assert.equal(list.find((v) => v.id === id)?.state, 'running');

    const again = await cocoon(['vm', 'start', name]);
    assert.equal(again.code, 6, 'starting a running VM is an invalid-state error');
    const rmRunning = await cocoon(['vm', 'rm', name]);
    assert.equal(rmRunning.code, 6, 'removing a running VM without --force is refused');

    const t0 = Date.now();
    await ok(['vm', 'stop', '--timeout', '120', name]);
    const tookMs = Date.now() - t0;
    const consoleLog = readFileSync(vm.runtime.consoleLog, 'utf8');
    assert.match(consoleLog, /reboot: Power down/, 'the guest powered itself off (ACPI power button → poweroff)');
    assert.ok(tookMs < 120_000, `graceful stop took ${tookMs} ms`);
    const stopped = VmRecordSchema.parse(JSON.parse(await ok(['vm', 'inspect', name])));
    assert.equal(stopped.state, 'stopped');
    assert.equal(stopped.pid, 0);

    await ok(['vm', 'rm', name]);
    assert.equal(existsSync(vm.runtime.runDir), false, 'run dir removed');
    assert.equal(existsSync(vm.runtime.logDir), false, 'log dir removed');
    const after = z.array(VmRecordSchema).parse(JSON.parse(await ok(['vm', 'list', '--format', 'json'])));
    assert.equal(after.some((v) => v.id === id), false, 'record removed');
    const leftovers = existsSync(env.COCOON_RUN_DIR) ? readdirSync(env.COCOON_RUN_DIR) : [];
    assert.deepEqual(leftovers.filter((f) => f === id), []);
  });

  it('rejects bad input with one line and leaves no record', async () => {
    const before = JSON.parse(await ok(['vm', 'list', '--format', 'json'])) as unknown[];
    const cases: Array<[string[], number, RegExp]> = [
      [['vm', 'create', '--nics', '0', '--memory', '12Q', 'default'], 2, /--memory: invalid size "12Q"/],
      [['vm', 'create', '--nics', '0', '--cpu', '0', 'default'], 2, /--cpu/],
      [['vm', 'create', '--nics', '0', '--bogus', 'default'], 2, /--bogus/],
      [['vm', 'create', '--nics', '0', 'no-such-image'], 3, /image "no-such-image" not found/],
      [['vm', 'create', '--nics', '0', '--name', 'bad_name!', 'default'], 2, /not a valid name/],
      [['vm', 'frobnicate'], 2, /unknown command/],
    ];
    for (const [args, code, message] of cases) {
      const r = await cocoon(args);
      assert.equal(r.code, code, `${args.join(' ')} → ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
      assert.equal(r.stdout, '');
    }
    const after = JSON.parse(await ok(['vm', 'list', '--format', 'json'])) as unknown[];
    assert.equal(after.length, before.length);
  });

  it('lets exactly one of two concurrent creates of the same name win', async () => {
    const name = `dup-${process.pid}`;
    const [a, b] = await Promise.all([
      cocoon(['vm', 'create', '--nics', '0', '--name', name, '--storage', '256M', 'default']),
      cocoon(['vm', 'create', '--nics', '0', '--name', name, '--storage', '256M', 'default']),
    ]);
    const codes = [a.code, b.code].sort();
    assert.deepEqual(codes, [0, 4], `${a.stderr} ${b.stderr}`);
    const loser = a.code === 4 ? a : b;
    assert.match(loser.stderr, /already exists/);
    const list = z.array(VmRecordSchema).parse(JSON.parse(await ok(['vm', 'list', '--format', 'json'])));
    assert.equal(list.filter((v) => v.config.name === name).length, 1);
    const upper = await cocoon(['vm', 'create', '--nics', '0', '--name', name.toUpperCase(), '--storage', '256M', 'default']);
    assert.equal(upper.code, 4, 'a name differing only in case would share the hostname');
    assert.match(upper.stderr, /already exists/);
    await ok(['vm', 'rm', name]);
    assert.equal(readdirSync(env.COCOON_RUN_DIR).length, 0, 'no run dir left behind by either create');
  });
});
