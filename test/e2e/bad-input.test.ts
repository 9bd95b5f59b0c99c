/**
 * Every class of bad input the hardening probe tried, against the built executables: bad
 * flags and values, unknown commands, refs that do not exist, URLs that are not URLs, servers
 * that fail in every way (refused, 500, not HTTP, reset mid-body), files that are not images
 * (empty, a folder, random bytes, a truncated qcow2) or snapshot archives, a store that belongs
 * to another user.
 * Each must give ONE line on stderr, a documented exit code (2-11), no stack trace, no
 * "internal error", and leave no temp file behind.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { BIN, requireTools } from '../helpers/cocoon.ts';

const scratch = mkdtempSync(join(tmpdir(), 'cocoon-bad-input-'));
const root = join(scratch, 'root');
const env = { COCOON_ROOT_DIR: root, COCOON_RUN_DIR: join(scratch, 'run'), COCOON_LOG_DIR: join(scratch, 'log') };
const f = (name: string) => join(scratch, name);
let http: Server;
let junk: TcpServer;
let base = '';
let junkBase = '';

async function cocoon(args: string[], opts: { tool?: string; env?: Record<string, string>; prefix?: string[] } = {}) {
  const file = join(BIN, opts.tool ?? 'cocoon');
  const [cmd, argv] = opts.prefix ? [opts.prefix[0] as string, [...opts.prefix.slice(1), file, ...args]] : [file, args];
  const r = await execa(cmd, argv, { env: { ...env, ...opts.env }, reject: false, stdin: 'ignore', timeout: 120_000 });
  return { code: r.exitCode ?? -1, stderr: String(r.stderr), stdout: String(r.stdout) };
}

before(async () => {
  requireTools();
  mkdirSync(f('folder'));
  writeFileSync(f('empty.img'), '');
  writeFileSync(f('random.bin'), randomBytes(1 << 20));
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', f('big.qcow2'), '1G']);
  writeFileSync(f('cut.qcow2'), readFileSync(f('big.qcow2')).subarray(0, 300));
  writeFileSync(f('notimage.tar'), (await execa('tar', ['-C', scratch, '-c', 'empty.img'], { encoding: 'buffer' })).stdout);
  http = createServer((req, res) => {
    if (req.url === '/500') return void res.writeHead(500).end('boom');
    if (req.url === '/reset') {
      res.writeHead(200, { 'content-length': String(8 << 20) });
      res.write(Buffer.alloc(1 << 20));
      return void setTimeout(() => res.socket?.destroy(), 50);
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  junk = createTcpServer((s) => s.end('this is not HTTP at all\r\n\r\n'));
  await new Promise<void>((r) => junk.listen(0, '127.0.0.1', r));
  junkBase = `http://127.0.0.1:${(junk.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise((r) => http.close(r));
  await new Promise((r) => junk.close(r));
  rmSync(scratch, { recursive: true, force: true });
});

const CASES: Array<[string[], number, { tool?: string }?]> = [
  [['nope'], 2],
  [['vm'], 2],
  [['vm', 'create', '--cpu', '-1', 'default'], 2],
  [['vm', 'create', '--cpu', 'many', 'default'], 2],
  [['vm', 'create', '--memory', '99999999T', 'default'], 2],
  [['vm', 'create', '--memory', '100T', 'default'], 2],
  [['vm', 'create', '--storage', '8000T', 'default'], 2],
  [['vm', 'create', '--memory', '12Q', 'default'], 2],
  [['vm', 'create', '--name', '-x', 'default'], 2],
  [['vm', 'create', '--name', 'a/b', 'default'], 2],
  [['vm', 'create', '--hypervisor', 'vmware', 'default'], 2],
  [['vm', 'create', '--nics', '0', 'no-such-image'], 3],
  [['vm', 'inspect', 'ghost'], 3],
  [['vm', 'start', 'ghost'], 3],
  [['vm', 'stop', '--timeout', 'soon', 'ghost'], 2],
  [['vm', 'exec', 'ghost', '--', 'true'], 3],
  [['vm', 'ls', '-o', 'yaml'], 2],
  [['--root-dir'], 2],
  [['image', 'pull', 'http://127.0.0.1:99999/x.qcow2'], 2],
  [['image', 'pull', 'http://bob:S3CRET@127.0.0.1:1/x.qcow2'], 10],
  [['image', 'pull', '--max-size', 'lots', `http://127.0.0.1:1/x.qcow2`], 2],
  [['image', 'pull', '--timeout', '-1', `http://127.0.0.1:1/x.qcow2`], 2],
  [['image', 'pull', 'UPPER/Case::tag'], 2],
  [['image', 'pull', '127.0.0.1:1/none/such:tag'], 10],
  [['image', 'import', 'x', f('nope.img')], 3],
  [['image', 'import', 'x', f('folder')], 9],
  [['image', 'import', 'x', f('empty.img')], 9],
  [['image', 'import', 'x', f('random.bin')], 9],
  [['image', 'import', 'x', f('cut.qcow2')], 9],
  [['image', 'import', 'x', f('notimage.tar')], 9],
  [['image', 'import', 'bad name!', f('big.qcow2')], 2],
  [['image', 'import', '--disk-format', 'vmdk', 'x', f('big.qcow2')], 2],
  [['image', 'inspect', 'ghost'], 3],
  [['image', 'rm', 'ghost'], 3],
  [['snapshot', 'inspect', 'ghost'], 3],
  [['snapshot', 'save', 'ghost'], 3],
  [['snapshot', 'save', '--name', 'bad/name', 'ghost'], 2],
  [['snapshot', 'import', f('nope.tar')], 3],
  [['snapshot', 'import', f('folder')], 9],
  [['snapshot', 'import', f('random.bin')], 9],
  [['snapshot', 'pull', 'UPPER/Case::tag'], 2],
  [['snapshot', 'pull', '127.0.0.1:1/none/such:tag'], 10],
  [['vm', 'clone', '--count', '0', 'ghost'], 2],
  [['vm', 'clone', 'ghost'], 3],
  [['vm', 'restore', 'ghost', 'ghost'], 3],
  // `cocoon-gc` alone runs a cycle (it is `cocoon gc`): its bad options are the bad input.
  [['--lock-wait', 'soon'], 2, { tool: 'cocoon-gc' }],
  [['--bogus'], 2, { tool: 'cocoon-gc' }],
];

describe('bad input: one line, a documented code, no stack, nothing left', () => {
  for (const [args, code, opts] of CASES) {
    it(`${opts?.tool ?? 'cocoon'} ${args.join(' ')} → ${code}`, async () => {
      const r = await cocoon(args, opts);
      assertClean(r, code);
    });
  }

  it('servers that fail every way: 500, refused, not HTTP, reset mid-body → 10', async () => {
    for (const url of [`${base}/500`, 'http://127.0.0.1:1/x.qcow2', `${junkBase}/x.qcow2`, `${base}/reset`]) {
      assertClean(await cocoon(['image', 'pull', '--name', 'x', url]), 10, url);
    }
  });

  it('a store that belongs to root, used by another user: 11, saying whose it is and how to run', async () => {
    const mine = await cocoon(['vm', 'ls']);
    assert.equal(mine.code, 0, mine.stderr);
    chmodSync(root, 0o700);
    chmodSync(scratch, 0o755);
    const r = await cocoon(['vm', 'ls'], { prefix: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'] });
    assertClean(r, 11);
    assert.match(r.stderr, /permission denied: .*belongs to another user \(normally root\); run cocoon as root/);
  });

  it('left no temp file', () => {
    let tmp: string[] = [];
    try {
      tmp = readdirSync(join(root, 'tmp'));
    } catch {
      // never made
    }
    assert.deepEqual(tmp, []);
  });
});

function assertClean(r: { code: number; stderr: string }, code: number, what = ''): void {
  assert.equal(r.code, code, `${what} ${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /^\s+at |internal error|Error \[ERR_|AssertionError/m);
  assert.doesNotMatch(r.stderr, /S3CRET/);
}
