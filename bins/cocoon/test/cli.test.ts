import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { assertDocumented, runInProcess } from '@cocoon/common/testing/cli';
import { cliFor } from '../src/cli.ts';
import { DISPATCH, route } from '../src/routes.ts';

const root = mkdtempSync(join(tmpdir(), 'cocoon-cli-'));
after(() => rmSync(root, { recursive: true, force: true }));
const env = { COCOON_ROOT_DIR: root, COCOON_LOG_DIR: join(root, 'log'), COCOON_CNI_CONF_DIR: join(root, 'cni'), PATH: process.env.PATH };
const run = (...argv: string[]) => runInProcess(cliFor(argv), 'cocoon', argv, env);
const cli = cliFor([]);

describe('cocoon CLI', () => {
  it('documents every command', () => assertDocumented(cli));

  it('prints its version', async () => {
    const r = await run('version', '--format', 'json');
    assert.equal(r.code, 0);
    assert.match(JSON.parse(r.stdout).version, /^\d+\.\d+\.\d+/);
  });

  it('lists no VMs as an empty JSON array off a TTY, and with -o json (the Go cocoon\'s flag)', async () => {
    const r = await run('vm', 'ls');
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(r.stdout), []);
    for (const flags of [['-o', 'json'], ['--output', 'json'], ['--format', 'json', '-o', 'json']]) {
      const j = await run('vm', 'list', ...flags);
      assert.equal(j.code, 0, j.stderr);
      assert.equal(j.stdout, '[]\n');
    }
    const t = await run('vm', 'ls', '--format', 'table');
    assert.match(t.stdout, /^ID\s+NAME\s+STATE/);
  });

  it('maps bad input to documented exit codes with one stderr line', async () => {
    const cases: Array<[string[], number]> = [
      [['vm', 'create', '--memory', '12Q', 'default'], 2],
      [['vm', 'create', '--cpu', '0', 'default'], 2],
      [['vm', 'create', '--nics', '99', 'default'], 2],
      [['vm', 'create', '--nics', 'two', 'default'], 2],
      [['vm', 'create', 'default'], 8],
      [['vm', 'create', '-p', '80', 'default'], 2],
      [['vm', 'create', '-p', '8080:80/sctp', 'default'], 2],
      [['vm', 'create', '--egress-rule', '10.0.0.0/8', 'default'], 2],
      [['vm', 'create', '--egress', 'deny', '--egress-rule', '10.0.0.0/33', 'default'], 2],
      [['vm', 'create', '--bridge', 'br0', '--network', 'n', 'default'], 2],
      [['vm', 'create', '--bridge', 'br0', '-p', '80:80', 'default'], 2],
      [['vm', 'create', '--nics', '0', '--bridge', 'br0', 'default'], 2],
      [['vm', 'create', '--user', 'Root', 'default'], 2],
      [['vm', 'create', '--hypervisor', 'vmware', 'default'], 2],
      [['vm', 'create', '--nics', '0', 'default'], 3],
      [['vm', 'inspect', 'ghost'], 3],
      [['vm', 'stop', 'ghost'], 3],
      [['vm', 'ls', '--format', 'yaml'], 2],
      [['vm', 'ls', '-o', 'yaml'], 2],
      [['vm', 'ls', '--format', 'table', '-o', 'json'], 2],
      [['vm', 'create', '--output', 'yaml', 'default'], 2],
      [['vm', 'create', '--memory', '12Qi', 'default'], 2],
      [['vm', 'create', '--memory', '64Mi', 'default'], 2],
      [['vm', 'create', '--memory', '99999999T', 'default'], 2],
      [['vm', 'create', '--cpu', '-1', 'default'], 2],
      [['vm', 'create', '--memory', '100T', 'default'], 2],
      [['vm', 'create', '--storage', '8000T', 'default'], 2],
      [['vm', 'create', '--memory', '100T', '--storage', '8000T', '--force', '--nics', '0', 'default'], 3],
      [['vm', 'create', '--network', 'cni0', 'default'], 8],
      [['vm', 'create', '--fc', '--hypervisor', 'qemu', 'default'], 2],
      [['vm', 'create', '--windows', '--fc', 'default'], 2],
      [['vm', 'create', '--cpu', '4096', 'default'], 2],
      [['vm', 'create', '--cpu', '255', 'default'], 2],
      [['vm', 'create', '--data-disk', 'size=1M', 'default'], 2],
      [['vm', 'create', '--data-disk', 'name=logs', 'default'], 2],
      [['vm', 'create', '--data-disk', 'size=1G,fstype=xfs', 'default'], 2],
      [['vm', 'create', '--data-disk', 'size=1G,mount=relative', 'default'], 2],
      [['vm', 'create', '--data-disk', 'size=1G,fstype=none,mount=/mnt/x', 'default'], 2],
      [['vm', 'create', '--data-disk', 'size=1G,name=a', '--data-disk', 'size=1G,name=a', 'default'], 2],
      [['vm', 'create', '--data-disk', 'size=1G,colour=red', 'default'], 2],
      [['vm', 'create', '--queue-size', '100', 'default'], 2],
      [['vm', 'create', '--disk-queue-size', '4096', 'default'], 2],
      [['vm', 'create', '--user', 'Bad User', 'default'], 2],
      [['vm', 'create', '--name', '-x', 'default'], 2],
      [['vm', 'start', '-o', 'json', 'ghost'], 3],
      [['nope'], 2],
      [['vm', 'logs', 'ghost'], 3],
      [['vm', 'logs', '--tail', 'ten', 'ghost'], 2],
      [['vm', 'logs', '--since', 'yesterday', 'ghost'], 2],
      [['vm', 'logs', '--since', '2026-13-45T99:00:00Z', 'ghost'], 2],
    ];
    for (const [argv, code] of cases) {
      const r = await run(...argv);
      assert.equal(r.code, code, `${argv.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.equal(r.stdout, '');
    }
    assert.match((await run('vm', 'create', '--nics', '0', 'default')).stderr, /cocoon image build-default/);
    assert.match((await run('vm', 'create', 'default')).stderr, /no CNI network configured .*cocoon-doctor check --fix.*--nics 0/);
    assert.match((await run('vm', 'inspect', 'ghost')).stderr.toLowerCase(), /vm not found/, 'the words vk-cocoon matches');
    assert.match((await run('vm', 'create', '--cpu', '-1', 'default')).stderr, /--cpu: "-1" is out of range/);
    assert.match((await run('vm', 'ls', '--format', 'table', '-o', 'json')).stderr, /disagree/);
    assert.match((await run('vm', 'create', '--memory', '100T', 'default')).stderr, /--memory: 100T is more than this host's .* of memory \(--force to overcommit\)/);
    assert.match((await run('vm', 'create', '--storage', '8000T', 'default')).stderr, /--storage: 7\.8P is more than the .* filesystem of /);
  });

  it('lists the commands of a noun: "vm --help" prints them, a bare "vm" names them in one line (exit 2)', async () => {
    for (const flag of ['--help', '-h']) {
      const r = await runInProcess(cliFor(['vm', flag]), 'cocoon', ['vm', flag], env);
      assert.equal(r.code, 0, r.stderr);
      for (const cmd of ['create', 'run', 'start', 'stop', 'list', 'inspect', 'rm', 'exec']) assert.match(r.stdout, new RegExp(`cocoon vm ${cmd}\\b`));
      assert.doesNotMatch(r.stdout, /cocoon version/, 'only the vm commands');
    }
    const bare = await run('vm');
    assert.equal(bare.code, 2);
    assert.match(bare.stderr, /^cocoon: "vm" needs a command: create, run, .*\n$/);
  });

  it('goes on past a failing ref like docker rm, and reports each failure', async () => {
    const r = await run('vm', 'rm', 'ghost-a', 'ghost-b');
    assert.equal(r.code, 3);
    assert.deepEqual(r.stderr.trim().split('\n'), ['cocoon: VM not found: ghost-a', 'cocoon: VM not found: ghost-b']);
  });
});

describe('dispatch', () => {
  it('routes nouns to their tools git-style', () => {
    assert.deepEqual(route(['image', 'ls', '-f', 'json']), { tool: 'cocoon-image', args: ['ls', '-f', 'json'] });
    assert.deepEqual(route(['snapshot', 'ls']), { tool: 'cocoon-snap', args: ['ls'] });
    assert.deepEqual(route(['snap', 'ls']), { tool: 'cocoon-snap', args: ['ls'] });
    assert.deepEqual(route(['gc']), { tool: 'cocoon-gc', args: [] });
    assert.deepEqual(route(['vm', 'console', 'web']), { tool: 'cocoon-console', args: ['web'] });
    assert.equal(route(['vm', 'ls']), null);
    assert.equal(route([]), null);
    assert.ok(Object.values(DISPATCH).every((t) => t.startsWith('cocoon-')));
  });
});
