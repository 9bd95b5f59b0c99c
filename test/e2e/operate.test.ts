/**
 * Operating a VM, end to end on ONE booted default guest (QEMU/TCG): `vm status` events
 * while a second VM is created, started, stopped, killed and removed; `vm console` on a
 * real pty (a command typed into the guest shell and its output read back, detach with
 * `^] .` and `~.`, `~?`, a second session refused, SIGTERM, the VM stopping underneath,
 * the terminal restored every time); `vm logs` (all, --tail, --since, -f until the VM stops).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { VmEventSchema, VmInspectSchema, type VmEvent } from '@cocoon/common/schemas/vm';
import { BIN, cocoon, cocoonStream, ensureDefaultImage, eventually, ok, READY_MARKER, REPO, requireTools, waitForFile } from '../helpers/cocoon.ts';
import { PtyRun } from '../helpers/pty.ts';

const NAME = `ops-${process.pid}`;
const OTHER = `ops-b-${process.pid}`;
let consoleLog = '';
let json: ReturnType<typeof cocoonStream>;
let text: ReturnType<typeof cocoonStream>;

/** `cocoon vm console ARGS` on a pty, inside bash so the terminal settings are printed before and after. */
function consoleSession(args: string[]): PtyRun {
  const script = 'stty -g; "$0" vm console "$@"; echo "exit=$?"; stty -g';
  return new PtyRun('bash', ['-c', script, join(BIN, 'cocoon'), ...args], { cols: 100, rows: 30 });
}

/** The two `stty -g` lines of a finished `consoleSession`: the terminal before and after. */
function sttyLines(output: string): string[] {
  return output.split(/\r?\n/).filter((l) => /^[0-9a-f]+(:[0-9a-f]+){10,}\r?$/.test(l)).map((l) => l.trim());
}

async function detachedCleanly(run: PtyRun, exitCode: number): Promise<void> {
  await run.expect(`exit=${exitCode}`);
  assert.equal((await run.exit()).code, 0);
  const [beforeTerm, afterTerm] = sttyLines(run.output);
  assert.ok(beforeTerm, `terminal settings printed before: ${run.output}`);
  assert.equal(afterTerm, beforeTerm, 'the terminal is restored exactly');
}

/** The PID of the first child of `pid` (the `cocoon` that bash started). */
function childOf(pid: number): number {
  const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  assert.ok(kids[0], `process ${pid} has a child`);
  return kids[0];
}

const eventsOf = (id: string) => json.lines().map((l) => VmEventSchema.parse(JSON.parse(l))).filter((e) => e.vm.id === id);
const seen = (id: string, event: VmEvent['event'], state?: string) => () => eventsOf(id).find((e) => e.event === event && (state === undefined || e.vm.state === state));

describe('operating a VM: status, console, logs', () => {
  before(async () => {
    requireTools();
    await ensureDefaultImage();
    json = cocoonStream(['vm', 'status', '--event', '--format', 'json']);
    text = cocoonStream(['vm', 'status', '--event']);
    await ok(['vm', 'run', '--name', NAME, '--cpu', '1', '--memory', '512M', '--storage', '1G', '--nics', '0', 'default']);
    consoleLog = VmInspectSchema.parse(JSON.parse(await ok(['vm', 'inspect', NAME]))).runtime.consoleLog;
    await waitForFile(consoleLog, READY_MARKER, 180_000);
  });
  after(async () => {
    await cocoon(['vm', 'rm', '--force', NAME]);
    await cocoon(['vm', 'rm', '--force', OTHER]);
    await json?.stop();
    await text?.stop();
  });

  it('vm status reports a VM created, started, stopped, killed behind its back and removed', async () => {
    const id = (await ok(['vm', 'create', '--name', OTHER, '--storage', '256M', '--nics', '0', 'default'])).trim();
    await eventually('ADDED', seen(id, 'ADDED'));
    await ok(['vm', 'start', OTHER]);
    await eventually('running', seen(id, 'MODIFIED', 'running'));
    await ok(['vm', 'stop', '--force', OTHER]);
    await eventually('stopped', seen(id, 'MODIFIED', 'stopped'));

    // Started again, then its QEMU is SIGKILLed: the record still says running.
    await ok(['vm', 'start', OTHER]);
    const started = await eventually('running again', () => eventsOf(id).filter((e) => e.vm.state === 'running').at(1));
    const pid = started.vm.pid;
    assert.ok(readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(started.vm.socket_path ?? '?'), 'the PID is this VM\'s QEMU');
    process.kill(pid, 'SIGKILL');
    const stale = await eventually('stale', () => eventsOf(id).filter((e) => e.event === 'MODIFIED' && e.vm.state === 'stopped').at(1), 10_000);
    assert.equal(stale.vm.pid, 0);
    await eventually('stopped (stale) in the text stream', () => text.lines().find((l) => l.includes(id.slice(0, 12)) && /\sstopped \(stale\)\s/.test(l)), 10_000);

    await ok(['vm', 'rm', OTHER]);
    await eventually('DELETED', seen(id, 'DELETED'));
    assert.deepEqual(eventsOf(id).map((e) => e.event).filter((e) => e !== 'MODIFIED'), ['ADDED', 'DELETED']);
    assert.ok(text.lines()[0]?.startsWith('EVENT'), 'the text stream starts with its header');
  });

  it('vm console: a command typed into the guest shell and its output; ^] . detaches and restores the terminal', async () => {
    const run = consoleSession([NAME]);
    await run.expect(`Connected to ${NAME} (escape: ^] .)`);
    run.write('\r');
    await run.expect(`${NAME}:/# `);
    run.write('echo $((6*7))\r');
    await run.expect(/\n42\r?\r?\n/);
    run.write('\x1d.');
    await run.expect(`Disconnected from ${NAME}.`);
    await detachedCleanly(run, 0);
  });

  it('vm console: reattach; ~? lists the escapes; a second session is refused (busy, 5); ~. detaches', async () => {
    const run = consoleSession([NAME]);
    await run.expect('Connected to');
    run.write('\r~?');
    await run.expect('~.    - disconnect (at the start of a line)');
    const second = await cocoon(['vm', 'console', NAME]);
    assert.equal(second.code, 5, second.stderr);
    assert.match(second.stderr, new RegExp(`the console of VM "${NAME}" is attached in another session`));
    run.write('echo still-$((1+1))\r');
    await run.expect('still-2');
    run.write('\r~.');
    await run.expect(`Disconnected from ${NAME}.`);
    await detachedCleanly(run, 0);
  });

  it('vm console: SIGTERM detaches with 143 and restores the terminal; bad escape chars are refused (2)', async () => {
    const run = consoleSession(['--escape-char', '^a', NAME]);
    await run.expect(`Connected to ${NAME} (escape: ^A .)`);
    process.kill(childOf(run.term.pid), 'SIGTERM');
    await run.expect(`Disconnected from ${NAME} (SIGTERM).`);
    await detachedCleanly(run, 143);
    for (const bad of ['^@', 'ab', '\x7f']) {
      const r = await cocoon(['vm', 'console', '--escape-char', bad, NAME]);
      assert.equal(r.code, 2, r.stderr);
    }
  });

  it('vm console on Firecracker: through its PTY relay (a stand-in firecracker, whose PTY echoes what is typed)', async () => {
    const fc = `ops-fc-${process.pid}`;
    const standIns = { PATH: `${join(REPO, 'libs', 'common', 'test', 'stand-ins', 'bin')}:${process.env.PATH}` };
    await ok(['vm', 'run', '--name', fc, '--fc', '--cpu', '1', '-m', '256M', '--nics', '0', 'default'], { extraEnv: standIns });
    try {
      const run = consoleSession([fc]);
      await run.expect(`Connected to ${fc} (escape: ^] .)`);
      run.write('ping-fc\r');
      await run.expect('ping-fc');
      run.write('\x1d.');
      await run.expect(`Disconnected from ${fc}.`);
      await detachedCleanly(run, 0);
    } finally {
      await ok(['vm', 'rm', '--force', fc], { extraEnv: standIns });
    }
  });

  it('vm logs: the whole console log, --tail, --since; a missing VM is 3', async () => {
    // The guest may still print (kernel messages): compare against the file as it was
    // before and after the command, and try again when it changed meanwhile.
    const stable = async (args: string[], expect: (file: string) => string) => {
      for (let i = 0; ; i++) {
        const before = readFileSync(consoleLog, 'utf8');
        const out = await ok(args);
        if (readFileSync(consoleLog, 'utf8') === before || i === 4) return assert.equal(out, expect(before), args.join(' '));
      }
    };
    await stable(['vm', 'logs', NAME], (file) => file);
    const all = await ok(['vm', 'logs', NAME]);
    assert.ok(all.includes(READY_MARKER));
    assert.match(all, /\n42\r?\n/, 'what the console session printed');
    // The last 3 lines; an unfinished last line (the shell prompt) counts as one.
    await stable(['vm', 'logs', '--tail', '3', NAME], (file) => {
      const done = file.endsWith('\n');
      return `${(done ? file.slice(0, -1) : file).split('\n').slice(-3).join('\n')}${done ? '\n' : ''}`;
    });
    await stable(['vm', 'logs', '--since', '10m', NAME], (file) => file); // this boot began less than 10 minutes ago
    assert.equal(await ok(['vm', 'logs', '--since', new Date(Date.now() + 60_000).toISOString(), NAME]), '');
    const missing = await cocoon(['vm', 'logs', 'no-such-vm']);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /VM not found/);
  });

  it('vm logs -f follows until the VM stops; an attached console ends with the VM', async () => {
    const follow = cocoonStream(['vm', 'logs', '-f', '--tail', '0', NAME]);
    const run = consoleSession([NAME]);
    await run.expect('Connected to');
    await ok(['vm', 'exec', NAME, '--', 'sh', '-c', 'echo follow-marker > /dev/console']);
    await eventually('the marker followed', () => follow.lines().find((l) => l.includes('follow-marker')));
    await ok(['vm', 'stop', '--timeout', '120', NAME]);
    await run.expect(`Disconnected from ${NAME}: the VM closed its console (it stopped).`);
    await detachedCleanly(run, 0);
    const timeout = new Promise<string>((r) => setTimeout(() => r('still following 10 s after the VM stopped'), 10_000));
    assert.equal(await Promise.race([follow.exited, timeout]), 0, follow.stderr());
    assert.ok(follow.lines().some((l) => l.includes('reboot: Power down')), 'the last words of the guest');
    const off = await cocoon(['vm', 'console', NAME]);
    assert.equal(off.code, 6);
    assert.match(off.stderr, /is not running/);
  });

  it('rotates a VM\'s logs past log_max_size when it starts; vm logs reads every generation; inspect shows where', async () => {
    const before = readFileSync(consoleLog, 'utf8');
    await ok(['vm', 'start', NAME], { extraEnv: { COCOON_LOG_MAX_SIZE: '4096', COCOON_LOG_MAX_FILES: '2' } });
    await ok(['vm', 'stop', '--force', NAME]);
    assert.equal(readFileSync(`${consoleLog}.1`, 'utf8'), before, 'the previous boot\'s log is generation 1');
    const vm = VmInspectSchema.parse(JSON.parse(await ok(['vm', 'inspect', NAME])));
    assert.deepEqual(vm.runtime.logs?.console, [consoleLog, `${consoleLog}.1`]);
    // (the helper strips one final line end, as a shell's $(…) does)
    assert.ok((await ok(['vm', 'logs', NAME])).startsWith(before.replace(/\r?\n$/, '')), 'vm logs prints the rotated generation first');
    const marks = readFileSync(vm.runtime.logs?.console_marks ?? '', 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event: string; offset: number });
    assert.deepEqual(marks.map((m) => m.event), ['start', 'stop'], 'this boot\'s marks (the earlier ones moved to generation 1)');
    assert.equal(marks[0]?.offset, 0);
  });
});
