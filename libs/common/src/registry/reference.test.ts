import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatReference, parseReference } from './reference.ts';
import { findCredentials, parseChallenges } from './auth.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PIN = `sha256:${'a'.repeat(64)}`;

test('references get Docker defaults', () => {
  assert.equal(formatReference(parseReference('ubuntu')), 'docker.io/library/ubuntu:latest');
  assert.equal(formatReference(parseReference('ubuntu:24.04')), 'docker.io/library/ubuntu:24.04');
  assert.equal(formatReference(parseReference('me/app')), 'docker.io/me/app:latest');
  assert.deepEqual(parseReference('localhost:5000/x'), { registry: 'localhost:5000', repository: 'x', tag: 'latest', digest: null });
  assert.deepEqual(parseReference(`ghcr.io/a/b@${PIN}`), { registry: 'ghcr.io', repository: 'a/b', tag: null, digest: PIN });
  assert.deepEqual(parseReference(`127.0.0.1:5000/a/b:1@${PIN}`).tag, '1');
});

test('bad references are usage errors', () => {
  for (const bad of ['', 'Ubuntu', 'a b', 'x@sha256:12', 'x:', 'a//b', 'x:-bad']) {
    assert.throws(() => parseReference(bad), { exitCode: 2 }, bad);
  }
});

test('WWW-Authenticate challenges keep quoted commas', () => {
  const [c] = parseChallenges('Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push"');
  assert.deepEqual(c, { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'reg', scope: 'repository:a/b:pull,push' } });
  const two = parseChallenges('Bearer realm="http://x/t", error="insufficient_scope", Basic realm=r');
  assert.deepEqual(two.map((x) => x.scheme), ['bearer', 'basic']);
  assert.equal(two[1]?.params.realm, 'r');
});

test('credentials: flags, then env, then DOCKER_CONFIG', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cocoon-auth-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { 'http://127.0.0.1:5000/': { auth: Buffer.from('bob:pw:x').toString('base64') }, 'https://index.docker.io/v1/': { username: 'hub', password: 'h' } } }));
  const env = { DOCKER_CONFIG: dir };
  assert.deepEqual(findCredentials('127.0.0.1:5000', { env }), { username: 'bob', password: 'pw:x' });
  assert.deepEqual(findCredentials('docker.io', { env }), { username: 'hub', password: 'h' });
  assert.equal(findCredentials('other:1', { env }), null);
  assert.deepEqual(findCredentials('127.0.0.1:5000', { env: { ...env, COCOON_REGISTRY_USERNAME: 'e', COCOON_REGISTRY_PASSWORD: 'p' } }), { username: 'e', password: 'p' });
  assert.deepEqual(findCredentials('127.0.0.1:5000', { env, username: 'f', password: 'q' }), { username: 'f', password: 'q' });
  assert.throws(() => findCredentials('x', { env, username: 'f' }), { exitCode: 2 });
});
