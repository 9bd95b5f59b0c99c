/**
 * The agent as it ships into guests: its own executable dist/agent/cocoon-agent (made by
 * `npm run build`), with node-pty's pty.node loaded from beside it (no node_modules in a
 * guest), driven by the host's `cocoon-agent client` (the multi-call dist/bin). PTY mode,
 * pipes, exit codes, and that it carries nothing but the agent.
 */
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { spawn } from '@cocoon/common/exec';
import { tempDir } from './helpers.ts';

const DIST = resolve(fileURLToPath(new URL('../../../dist', import.meta.url)));
const AGENT = join(DIST, 'agent', 'cocoon-agent');
const CLIENT = join(DIST, 'bin', 'cocoon-agent');
const { dir, cleanup } = tempDir();
const SOCKET = join(dir, 'agent.sock');
let server: ReturnType<typeof spawn> | undefined;

async function client(args: string[], input?: string) {
  const r = await spawn(CLIENT, ['client', '--unix', SOCKET, ...args], { reject: false, input, stripFinalNewline: false, env: { ...process.env, COCOON_PTY_ADDON: '' } });
  return { code: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

describe('the guest agent executable (dist/agent)', () => {
  before(async () => {
    assert.ok(existsSync(AGENT) && existsSync(join(DIST, 'agent', 'pty.node')), `${AGENT} or pty.node beside it is missing: run "npm run build" first`);
    assert.ok(existsSync(CLIENT), `${CLIENT} is missing: run "npm run build" first`);
    // Run from a folder without node_modules: pty.node must come from beside the executable.
    server = spawn(AGENT, ['serve', '--no-vsock', '--listen-unix', SOCKET], { cwd: dir, reject: false, stdin: 'ignore', stdout: 'ignore', stderr: 'pipe', buffer: false, cleanup: true });
    let err = '';
    server.stderr?.on('data', (b: Buffer) => (err += b.toString()));
    const deadline = Date.now() + 10_000;
    while (!err.includes('ready')) {
      if (Date.now() > deadline || server.exitCode !== null) throw new Error(`cocoon-agent serve did not start: ${err}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  });
  after(async () => {
    server?.kill('SIGTERM');
    await server?.catch(() => undefined);
    cleanup();
  });

  it('runs a command on a real pty with the requested size (node-pty inside the executable)', async () => {
    const r = await client(['-t', '--', 'sh', '-c', 'tty; stty size']);
    assert.equal(r.code, 0, r.stderr);
    const [tty, size] = r.stdout.split(/\r?\n/);
    assert.match(tty ?? '', /^\/dev\/pts\/\d+$/);
    assert.equal(size, '24 80');
  });

  it('passes stdin through and returns the exit code', async () => {
    const cat = await client(['-i', '--', 'cat'], 'hi\n');
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, 'hi\n');
    assert.equal((await client(['--', 'sh', '-c', 'exit 3'])).code, 3);
    const missing = await client(['--', 'no-such-command-xyz']);
    assert.equal(missing.code, 127);
    assert.match(missing.stderr, /command not found/);
  });

  it('carries only the agent: no host tool, no client', async () => {
    const other = await spawn(AGENT, ['--version'], { reject: false, env: { ...process.env, COCOON_TOOL: 'cocoon' } });
    assert.equal(other.exitCode, 2);
    assert.match(String(other.stderr), /unknown tool "cocoon".*run this executable as cocoon-agent/);
    const noClient = await spawn(AGENT, ['client', '--unix', SOCKET, '--', 'true'], { reject: false });
    assert.equal(noClient.exitCode, 2, String(noClient.stderr));
  });
});
