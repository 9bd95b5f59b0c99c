/**
 * cocoon-net's command line in-process: documentation, and bad input that is refused before
 * anything is made (no netns, no plugin run, no record), so nothing here touches a network
 * namespace. What runs plugins is in test/e2e/network*.test.ts, inside namespaces of its own.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { assertDocumented, runInProcess } from '@cocoon/common/testing/cli';
import { cli } from '../src/cli.ts';

const root = mkdtempSync(join(tmpdir(), 'cocoon-net-cli-'));
after(() => rmSync(root, { recursive: true, force: true }));
const conf = join(root, 'conf');
const bin = join(root, 'bin');
mkdirSync(conf);
mkdirSync(bin);
const env = { COCOON_ROOT_DIR: join(root, 'root'), COCOON_LOG_DIR: join(root, 'log'), COCOON_CNI_CONF_DIR: conf, COCOON_CNI_BIN_DIR: bin, PATH: process.env.PATH };
const run = (argv: string[], stdin = '') => runInProcess(cli, 'cocoon-net', argv, env, stdin);
const VM = '0123456789abcdef0123456789abcdef';
const req = (extra: object = {}) => JSON.stringify({ vm_id: VM, nics: 1, cpu: 1, ...extra });

function conflist(file: string, name: string, plugins: object[]): void {
  writeFileSync(join(conf, file), JSON.stringify({ cniVersion: '1.0.0', name, plugins }));
}

describe('cocoon-net CLI', () => {
  it('documents every command', () => assertDocumented(cli));

  it('refuses bad input with one line and a documented code, leaving no record', async () => {
    const noConf = await run(['add'], req());
    assert.equal(noConf.code, 8, noConf.stderr);
    assert.match(noConf.stderr, /no CNI network configured .*cocoon-doctor check --fix.*--nics 0/);

    conflist('10-a.conflist', 'alpha', [{ type: 'bridge' }]);
    conflist('20-b.conflist', 'beta', [{ type: 'bridge' }, { type: 'portmap', capabilities: { portMappings: true } }]);
    writeFileSync(join(bin, 'bridge'), '#!/bin/sh\nexit 1\n');
    chmodSync(join(bin, 'bridge'), 0o755);
    const cases: Array<[string[], string, number, RegExp]> = [
      [['add'], 'not json', 9, /not JSON/],
      [['add'], req({ nics: 0 }), 9, /nics/],
      [['add'], req({ network: 'gamma' }), 3, /network "gamma" not found .*available: alpha, beta/],
      [['add'], req({ publish: [{ host_port: 8080, container_port: 80, protocol: 'tcp' }] }), 2, /network "alpha" has no plugin with the portMappings capability/],
      [['add'], req({ network: 'beta' }), 8, /CNI plugin "portmap" not found/],
      [['add'], req({ bridge: 'br0', network: 'beta' }), 2, /exclude each other/],
      [['add'], req({ bridge: 'br0', egress: { mode: 'deny', rules: [] } }), 2, /--egress needs a CNI network/],
      [['del', 'nope'], '', 2, /not a VM ID/],
      [['inspect', VM], '', 3, /network not found/],
    ];
    for (const [argv, stdin, code, message] of cases) {
      const r = await run(argv, stdin);
      assert.equal(r.code, code, `${argv.join(' ')} ${stdin} → ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    assert.equal(existsSync(join(root, 'root', 'networks', 'index.json')), false, 'no record was ever written');
  });

  it('lists an empty index as []', async () => {
    const r = await run(['list', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), []);
  });
});
