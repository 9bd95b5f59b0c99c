import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { extractGlobalFlags, globalsToEnv, resolveConfig } from './config.ts';
import { ExitCode, InvalidDataError, UsageError } from './errors.ts';

describe('config', () => {
  it('extracts global flags anywhere before --', () => {
    const { globals, rest } = extractGlobalFlags(['vm', '--root-dir', '/r', 'ls', '--log-level=debug', '--', '--root-dir', 'x']);
    assert.deepEqual(globals, { root_dir: '/r', log_level: 'debug' });
    assert.deepEqual(rest, ['vm', 'ls', '--', '--root-dir', 'x']);
  });
  it('needs a value for a global flag', () => assert.throws(() => extractGlobalFlags(['--root-dir']), UsageError));
  it('resolves flag > env > file > default', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cocoon-cfg-'));
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ root_dir: '/from-file', log_dir: '/log-file', dns: ['9.9.9.9'] }));
    const cfg = resolveConfig({ config_file: file, log_dir: '/log-flag' }, { COCOON_ROOT_DIR: '/from-env' });
    assert.equal(cfg.root_dir, '/from-env');
    assert.equal(cfg.run_dir, '/from-env/run');
    assert.equal(cfg.log_dir, '/log-flag');
    assert.deepEqual(cfg.dns, ['9.9.9.9']);
    assert.equal(resolveConfig({ dns: '1.1.1.1, 8.8.4.4' }, {}).dns.join(), '1.1.1.1,8.8.4.4');
  });
  it('passes globals to children as COCOON_* variables', () => {
    assert.deepEqual(globalsToEnv({ root_dir: '/r', dns: 'a,b' }), { COCOON_ROOT_DIR: '/r', COCOON_DNS: 'a,b' });
  });
  it('rejects a config file with unknown keys or bad JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cocoon-cfg-'));
    writeFileSync(join(dir, 'bad.json'), '{"rootdir": "/x"}');
    writeFileSync(join(dir, 'broken.json'), '{');
    assert.throws(() => resolveConfig({ config_file: join(dir, 'bad.json') }, {}), (e: unknown) => e instanceof InvalidDataError && e.exitCode === ExitCode.InvalidData);
    assert.throws(() => resolveConfig({ config_file: join(dir, 'broken.json') }, {}), InvalidDataError);
  });
  it('rejects a bad log level', () => assert.throws(() => resolveConfig({ log_level: 'loud' }, {}), UsageError));
});
