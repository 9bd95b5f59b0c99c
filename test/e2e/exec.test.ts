/**
 * `cocoon vm exec` end to end: ONE default-guest VM (QEMU/TCG) booted with `vm run --wait`
 * for every case, its agent reached through the VM's virtio-serial port pool, with no
 * cocoon process beside QEMU. Covers the kernel, stdin, exit codes, a missing command,
 * bad input, a real pty driven through node-pty (tty path, size and a live resize), eight
 * commands at once and a ninth that finds every port busy, a killed client, a VM that is
 * not running, and an agent that dies mid-command or never answers.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { ImageRecordSchema } from '@cocoon/common/schemas/image';
import { VmRecordSchema } from '@cocoon/common/schemas/vm';
import { BIN, cocoon, ensureDefaultImage, env, ok, requireTools } from '../helpers/cocoon.ts';
import { underPty } from '../helpers/pty.ts';

const NAME = `exec-${process.pid}`;
const InspectSchema = z.object({ id: z.string(), runtime: z.object({ runDir: z.string(), consoleLog: z.string() }).loose() }).loose();
let runDir = '';

/** Whether `pid` runs (a zombie left to a non-reaping init counts as gone). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return false;
  }
}

/** Every process whose command line names `needle`, as "pid argv…". */
function processesNaming(needle: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      if (argv.includes(needle) && alive(Number(pid))) found.push(`${pid} ${argv}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
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

  it('leaves nothing running beside QEMU: the agent is reached through a port pool', async () => {
    const beside = processesNaming(runDir);
    assert.equal(beside.length, 1, `one process, QEMU: ${beside.join(' | ')}`);
    assert.match(beside[0] ?? '', /qemu-system-x86_64/);
    assert.equal(readFileSync(join(runDir, 'agent', 'ports'), 'utf8').trim(), '8', 'the agent serves all 8 ports');
  });

  it('maps the agent layer from the host page cache (virtio-pmem, DAX): a lean agent whose pages no guest copies', async () => {
    const vm = VmRecordSchema.parse(JSON.parse(await ok(['vm', 'inspect', NAME])));
    assert.equal(vm.notice, undefined);
    assert.deepEqual(vm.storage_configs.filter((d) => d.role === 'layer').map((d) => d.pmem === true), [false, false, true], 'the agent layer is on pmem');
    assert.match(vm.boot.cmdline, /cocoon\.layers=cocoon-layer0,cocoon-layer1,pmem:[0-9a-f]{32} /);
    const r = await cocoon(['vm', 'exec', NAME, '--', 'sh', '-c', 'grep -c "^/dev/pmem0 .* erofs .*dax=always" /proc/mounts; grep -E "^(VmRSS|RssAnon|RssFile):" /proc/$(cat /run/cocoon-agent.pid)/status']);
    assert.equal(r.code, 0, r.stderr);
    const kib = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(r.stdout)?.[1]);
    assert.equal(r.stdout.split('\n')[0], '1', 'the pmem layer is mounted with DAX');
    // The targets of the lean agent: its executable's pages are the host's (DAX), not the guest's.
    assert.ok(kib('VmRSS') <= 20 * 1024, `agent RSS ${kib('VmRSS')} KiB`);
    assert.ok(kib('RssAnon') <= 12 * 1024, `agent anonymous memory ${kib('RssAnon')} KiB`);
  });

  it('runs 8 commands at once; a 9th waits for a port, and finds them all busy after a bounded wait', async () => {
    const eight = await Promise.all(Array.from({ length: 8 }, (_, i) => cocoon(['vm', 'exec', NAME, '--', 'sh', '-c', `sleep 1; echo ${i}`])));
    assert.deepEqual(eight.map((r) => [r.code, r.stdout]), eight.map((_, i) => [0, String(i)]));
    const long = Array.from({ length: 8 }, () => cocoon(['vm', 'exec', NAME, '--', 'sleep', '25']));
    await new Promise((r) => setTimeout(r, 5000));
    const t0 = Date.now();
    const ninth = await cocoon(['vm', 'exec', NAME, '--', 'true']);
    assert.equal(ninth.code, 5, ninth.stderr);
    assert.match(ninth.stderr, /all 8 agent ports of this VM are busy/);
    assert.ok(Date.now() - t0 < 15_000, 'a bounded wait, not a hang');
    assert.ok((await Promise.all(long)).every((r) => r.code === 0));
  });

  it('a killed client frees its port and its command dies with it', async () => {
    const client = spawn(join(BIN, 'cocoon'), ['vm', 'exec', NAME, '--', 'sleep', '301'], { env: { ...process.env, ...env }, stdio: 'ignore' });
    const exited = new Promise((r) => client.once('exit', r));
    const seen = async () => (await cocoon(['vm', 'exec', NAME, '--', 'sh', '-c', 'ps -o args | grep -c "^/bin/sleep 301"'])).stdout;
    for (let i = 0; i < 60 && (await seen()) !== '1'; i++) await new Promise((r) => setTimeout(r, 500));
    assert.equal(await seen(), '1', 'the remote command runs');
    client.kill('SIGKILL');
    await exited;
    for (let i = 0; i < 20 && (await seen()) !== '0'; i++) await new Promise((r) => setTimeout(r, 500));
    assert.equal(await seen(), '0', 'the remote command died with its client');
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

  it('ends a session whose agent is SIGKILLed, times out with 7 afterwards, and stop leaves nothing behind', async () => {
    // SIGKILL the guest's agent from inside one of its own sessions: it can send nothing, so
    // the client must learn it from QEMU (VSERPORT_CHANGE) and end the session, not hang.
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
    assert.deepEqual(processesNaming(runDir), [], 'nothing of the VM runs');
    assert.equal(existsSync(join(runDir, 'agent')), false, 'the port pool is removed');
  });
});
