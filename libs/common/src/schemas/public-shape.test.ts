/**
 * The public JSON shapes (what `vm inspect`, `vm list -o json`, `vm status` events and
 * `snapshot inspect` print) as committed JSON Schemas: renaming or retyping a key fails here
 * and shows up as a diff of `schemas/public/*.schema.json`, so a change of the contract the
 * Go cocoon's clients rely on is always a visible, reviewed change.
 * Regenerate after an intended change: `UPDATE_SCHEMAS=1 node --import tsx --test <this file>`.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { SnapshotRecordSchema } from './snapshot.ts';
import { VmEventSchema, VmInspectSchema, VmRecordSchema } from './vm.ts';

const SHAPES = { vm: VmRecordSchema, 'vm-inspect': VmInspectSchema, 'vm-event': VmEventSchema, snapshot: SnapshotRecordSchema };

describe('public JSON shapes', () => {
  for (const [name, schema] of Object.entries(SHAPES)) {
    it(`${name} matches schemas/public/${name}.schema.json`, () => {
      const file = new URL(`./public/${name}.schema.json`, import.meta.url);
      const now = `${JSON.stringify(z.toJSONSchema(schema, { io: 'output' }), null, 2)}\n`;
      if (process.env.UPDATE_SCHEMAS === '1') writeFileSync(file, now);
      assert.equal(now, readFileSync(file, 'utf8'), `the public ${name} shape changed: review the diff, then UPDATE_SCHEMAS=1`);
    });
  }

  it('keeps every key the Go cocoon prints for a VM', () => {
    const keys = Object.keys(VmRecordSchema.shape);
    for (const k of ['id', 'hypervisor', 'state', 'config', 'pid', 'socket_path', 'network_configs', 'storage_configs', 'first_booted', 'snapshot_ids', 'created_at', 'updated_at', 'started_at', 'stopped_at']) {
      assert.ok(keys.includes(k), k);
    }
    const config = Object.keys(VmRecordSchema.shape.config.shape);
    for (const k of ['name', 'cpu', 'memory', 'storage', 'image', 'image_digest', 'image_type', 'network', 'queue_size', 'disk_queue_size', 'no_direct_io', 'windows']) {
      assert.ok(config.includes(k), `config.${k}`);
    }
  });
});
