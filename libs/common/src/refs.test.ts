import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NotFoundError, UsageError } from './errors.ts';
import { hostnameFor, newId, resolveRef, validateVmName } from './refs.ts';

const items = [
  { id: 'abc111aaaaaaaaaaaaaaaaaaaaaaaaaa', name: 'web' },
  { id: 'abc222bbbbbbbbbbbbbbbbbbbbbbbbbb', name: 'db' },
  { id: 'def333cccccccccccccccccccccccccc', name: 'abc111aaaaaaaaaaaaaaaaaaaaaaaaaa' },
];

describe('resolveRef', () => {
  it('prefers an exact ID over a name equal to that ID', () => {
    assert.equal(resolveRef(items, 'abc111aaaaaaaaaaaaaaaaaaaaaaaaaa', 'VM').name, 'web');
  });
  it('resolves by name', () => assert.equal(resolveRef(items, 'db', 'VM').id, items[1]!.id));
  it('resolves a unique prefix of at least 3 characters', () => assert.equal(resolveRef(items, 'def', 'VM').name, items[2]!.name));
  it('rejects an ambiguous prefix with a usage error', () => assert.throws(() => resolveRef(items, 'abc', 'VM'), UsageError));
  it('rejects a prefix shorter than 3 characters', () => assert.throws(() => resolveRef(items, 'de', 'VM'), NotFoundError));
  it('says "<kind> not found" for an unknown ref (the words Go-cocoon clients match)', () => assert.throws(() => resolveRef(items, 'nope', 'VM'), /^NotFoundError: VM not found: nope$/));
  it('resolves names through nameOf', () => {
    const nested = items.map((i) => ({ id: i.id, config: { name: i.name } }));
    assert.equal(resolveRef(nested, 'db', 'VM', (i) => i.config.name).id, items[1]!.id);
  });
  it('makes 32-hex IDs', () => assert.match(newId(), /^[0-9a-f]{32}$/));
});

describe('VM names', () => {
  it('accepts the Go cocoon\'s names (dots, underscores, capitals) and refuses the rest', () => {
    for (const ok of ['web', 'Web.1', 'a_b-c', '0', 'x'.repeat(63)]) validateVmName(ok);
    for (const bad of ['', '-a', '.a', 'a b', 'a/b', 'x'.repeat(64), 'é']) assert.throws(() => validateVmName(bad), UsageError, bad);
  });
  it('derives a DNS-label hostname', () => {
    assert.equal(hostnameFor('Web_1.prod'), 'web-1-prod');
    assert.equal(hostnameFor('db-'), 'db');
  });
});
