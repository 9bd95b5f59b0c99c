import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { execa } from 'execa';
import { failure, run } from './exec.ts';
import { isRunning } from './proc.ts';

describe('exec', () => {
  it('children of run/spawn die with their parent, even on SIGKILL (parent-death signal)', async () => {
    // A parent that starts `sleep 600` through spawn() and prints its PID.
    const script = "import { spawn } from './src/exec.ts'; const c = spawn('sleep', ['600']); c.catch(() => {}); process.stdout.write(String(c.pid) + '\\n'); setInterval(() => {}, 1000);";
    const parent = execa('node', ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: new URL('..', import.meta.url).pathname, reject: false });
    const pid = await new Promise<number>((resolve) => parent.stdout?.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
    assert.ok(isRunning(pid), 'sleep runs');
    parent.kill('SIGKILL');
    await parent;
    for (let i = 0; i < 50 && isRunning(pid); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(isRunning(pid), false, 'sleep died with its parent');
  });

  it('a missing program is still a missing dependency naming its Debian package', async () => {
    await assert.rejects(run('mkfs.erofs-nope', []), { exitCode: 8, message: /mkfs\.erofs-nope not found/ });
    const e = failure('qemu-img', ['info'], { exitCode: 127 }, 'setpriv: failed to execute qemu-img: No such file or directory');
    assert.match(e.message, /install the Debian package qemu-utils/);
  });
});
