/**
 * `cocoon vm exec` end to end: ONE default-guest VM (QEMU/TCG) booted with `vm run --wait`
 * for every case, its agent reached through the per-VM relay over virtio-serial. Covers
 * the kernel, stdin, exit codes, a missing command, bad input, a real pty driven through
 * node-pty (tty path, size and a live resize), a VM that is not running, an agent that
 * never answers, and that stop + rm leave no relay process or socket behind.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { ImageRecordSchema } from '@cocoon/common/schemas/image';
import { cocoon, ensureDefaultImage, ok, requireTools } from '../helpers/cocoon.ts';
import { underPty } from '../helpers/pty.ts';

const NAME = `exec-${process.pid}`;
const InspectSchema = z.object({ id: z.string(), runtime: z.object({ runDir: z.string(), consoleLog: z.string() }).loose() }).loose();
let runDir = '';
let relayPid = 0;

/** Whether `pid` runs (a zombie left to a non-reaping init counts as gone). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return false;
  }
}

/** Makes sure the e2e root's default image has the agent layer (an older build lacks it). */
async function ensureAgentImage(): Promise<void> {
  await ensureDefaultImage();
  const image = ImageRecordSchema.parse(JSON.parse(await ok(['image', 'inspect', 'default'])));
  if (image.layers.length < 3) await ok(['image', 'build-default', '--force'], { timeoutMs: 900_000 });
}

describe('cocoon vm exec on the default guest', () => {
  before(async () => {
    requireTools();
    await ensureAgentImage();
    const id = (await ok(['vm', 'run', '--nics', '0', '--wait', '--wait-timeout', '180', '--name', NAME, '--cpu', '1', '--memory', '512M', '--storage', '1G', 'default'])).trim();
    assert.match(id, /^[0-9a-f]{32}$/);
    runDir = InspectSchema.parse(JSON.parse(await ok(['vm', 'inspect', NAME]))).runtime.runDir;
    relayPid = Number(readFileSync(join(runDir, 'agent-relay.pid'), 'utf8'));
  });
  after(async () => {
    await cocoon(['vm', 'rm', '--force', NAME]);
  });

  it('prints the guest kernel (uname -a)', async () => {
    const r = await cocoon(['vm', 'exec', NAME, '--', 'uname', '-a']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Linux \S+ 6\.1\.0-\d+-cloud-amd64 /);
  });

  it('round-trips stdin with -i, keeps stderr apart and passes env and cwd', async () => {
    const r = await cocoon(['vm', 'exec', '-i', NAME, '--', 'cat'], { input: 'hi\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hi');
    const e = await cocoon(['vm', 'exec', '-e', 'GREETING=hello', '-w', '/tmp', NAME, '--', 'sh', '-c', 'echo "$GREETING $(pwd)"; echo oops >&2']);
    assert.equal(e.code, 0, e.stderr);
    assert.equal(e.stdout, 'hello /tmp');
    assert.equal(e.stderr, 'oops');
  });

  it('returns the remote exit code; a missing command is 127 with a clear message', async () => {
    assert.equal((await cocoon(['vm', 'exec', NAME, '--', 'sh', '-c', 'exit 3'])).code, 3);
    const missing = await cocoon(['vm', 'exec', NAME, '--', 'no-such-command']);
    assert.equal(missing.code, 127);
    assert.match(missing.stderr, /no-such-command: command not found/);
  });

  it('an unknown user, group or working directory is "not found" (3), with one line, no command run', async () => {
    for (const args of [['-u', 'nosuchuser'], ['-u', 'root:nosuchgroup'], ['-w', '/nonexistent']]) {
      const r = await cocoon(['vm', 'exec', ...args, NAME, '--', 'touch', '/tmp/ran']);
      assert.equal(r.code, 3, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^cocoon: .*(not found|no such directory)/);
    }
    assert.equal((await cocoon(['vm', 'exec', NAME, '--', 'test', '-e', '/tmp/ran'])).code, 1, 'nothing ran');
  });

  it('rejects an empty command and -t without a terminal with exit 2', async () => {
    const empty = await cocoon(['vm', 'exec', NAME]);
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /no command given/);
    const noTty = await cocoon(['vm', 'exec', '-t', NAME, '--', 'tty']);
    assert.equal(noTty.code, 2);
    assert.match(noTty.stderr, /-t needs a terminal on stdin/);
  });

  it('-t gives the command a pty of the caller\'s size', async () => {
    const r = await underPty(['vm', 'exec', '-t', NAME, '--', 'sh', '-c', 'tty; stty size'], 101, 33, () => undefined);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /\/dev\/pts\/\d+\r/);
    assert.match(r.output, /33 101/);
  });

  it('-it follows a window size change (SIGWINCH → resize)', async () => {
    const r = await underPty(['vm', 'exec', '-it', NAME, '--', 'sh'], 80, 24, (term) => {
      let seen = '';
      let resized = false;
      term.onData((d) => {
        seen += d;
        // Once the remote shell prompts, the session is up: resize, then ask for the size.
        if (!resized && seen.includes('# ')) {
          resized = true;
          term.resize(120, 40);
          setTimeout(() => term.write('stty size; exit 0\r'), 300);
        }
      });
    });
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /40 120/);
  });

  it('refuses a VM that is not running (6) and a VM that does not exist (3)', async () => {
    const idle = `idle-${process.pid}`;
    await ok(['vm', 'create', '--nics', '0', '--name', idle, '--storage', '256M', 'default']);
    try {
      const r = await cocoon(['vm', 'exec', idle, '--', 'true']);
      assert.equal(r.code, 6);
      assert.match(r.stderr, /is not running/);
    } finally {
      await ok(['vm', 'rm', idle]);
    }
    assert.equal((await cocoon(['vm', 'exec', 'no-such-vm', '--', 'true'])).code, 3);
  });

  it('ends a session whose agent is SIGKILLed, times out with 7 afterwards, and stop leaves no relay behind', async () => {
    // SIGKILL the guest's agent from inside one of its own sessions: it can send nothing, so
    // the relay must learn it from QEMU (VSERPORT_CHANGE) and end the session, not hang.
    const t0 = Date.now();
    const killed = await cocoon(['vm', 'exec', NAME, '--', 'sh', '-c', 'kill -9 $(cat /run/cocoon-agent.pid); sleep 30'], { timeoutMs: 20_000 });
    assert.equal(killed.code, 10, `the session ends with an external failure: ${killed.stderr}`);
    assert.match(killed.stderr, /guest agent went away/);
    assert.ok(Date.now() - t0 < 15_000, 'well before the command itself would have ended');
    // It refuses new commands while it flushes, then is gone for good.
    await new Promise((r) => setTimeout(r, 1500));
    const r = await cocoon(['vm', 'exec', '--wait-timeout', '3', NAME, '--', 'true']);
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stderr, /did not answer within 3 s/);
    await ok(['vm', 'stop', '--force', NAME]);
    assert.equal(alive(relayPid), false, 'the relay exited with QEMU');
    assert.equal(existsSync(join(runDir, 'agent.sock')), false, 'agent.sock removed');
    assert.equal(existsSync(join(runDir, 'agent-relay.pid')), false, 'relay pid file removed');
  });
});
