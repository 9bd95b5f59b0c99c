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
  it('resolves log rotation from env > file > default, sizes and durations in words', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cocoon-cfg-'));
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ log_max_size: '1M', log_max_files: 2, log_max_age: '12h' }));
    const def = resolveConfig({}, {});
    assert.deepEqual([def.log_max_size, def.log_max_files, def.log_max_age], [10 * 2 ** 20, 5, 30 * 86_400]);
    const fromFile = resolveConfig({ config_file: file }, {});
    assert.deepEqual([fromFile.log_max_size, fromFile.log_max_files, fromFile.log_max_age], [2 ** 20, 2, 12 * 3600]);
    const fromEnv = resolveConfig({ config_file: file }, { COCOON_LOG_MAX_SIZE: '64K', COCOON_LOG_MAX_FILES: '0', COCOON_LOG_MAX_AGE: '0' });
    assert.deepEqual([fromEnv.log_max_size, fromEnv.log_max_files, fromEnv.log_max_age], [65536, 0, 0]);
    assert.throws(() => resolveConfig({}, { COCOON_LOG_MAX_SIZE: 'huge' }), UsageError);
    assert.throws(() => resolveConfig({}, { COCOON_LOG_MAX_FILES: '-1' }), UsageError);
    assert.throws(() => resolveConfig({}, { COCOON_LOG_MAX_AGE: '3 fortnights' }), UsageError);
  });
  it('rejects a bad log level', () => assert.throws(() => resolveConfig({ log_level: 'loud' }, {}), UsageError));
});
