import assert from 'node:assert/strict';
import { it } from 'node:test';
import { assertDocumented, runInProcess } from '@cocoon/common/testing/cli';
import { cli } from '../src/cli.ts';

it('cocoon-gc documents its command and prints its version', async () => {
  assertDocumented(cli);
  const r = await runInProcess(cli, 'cocoon-gc', ['--version'], {});
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^\d+\.\d+\.\d+/);
});
