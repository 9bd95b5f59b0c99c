import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NotFoundError, UsageError } from './errors.ts';
import { newId, resolveRef } from './refs.ts';

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
  it('says not found for an unknown ref', () => assert.throws(() => resolveRef(items, 'nope', 'VM'), /VM "nope" not found/));
  it('makes 32-hex IDs', () => assert.match(newId(), /^[0-9a-f]{32}$/));
});
