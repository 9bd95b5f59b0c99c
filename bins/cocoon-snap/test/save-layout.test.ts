/**
 * The attach order a snapshot records when layers are mapped through virtio-pmem: QEMU lists
 * only its block devices, and a restore must rebuild every device in its saved place.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { StorageConfig } from '@cocoon/common/schemas/vm';
import { withPmemLayers } from '../src/save.ts';

const disk = (path: string, pmem = false): StorageConfig => ({ path, ro: path !== 'cow', serial: path, role: path === 'cow' ? 'cow' : 'layer', ...(pmem ? { pmem: true } : {}) }) as StorageConfig;

it('puts pmem layers back between the block devices, in the record\'s order', () => {
  const vm = { storage_configs: [disk('base'), disk('kernel'), disk('agent', true), disk('cow')] };
  assert.deepEqual(withPmemLayers(vm, ['base', 'kernel', 'cow']), ['base', 'kernel', 'agent', 'cow']);
  const first = { storage_configs: [disk('agent', true), disk('base'), disk('cow')] };
  assert.deepEqual(withPmemLayers(first, ['base', 'cow']), ['agent', 'base', 'cow']);
});

it('keeps the hypervisor\'s list as it is without pmem layers, and disks the record lacks at the end', () => {
  assert.deepEqual(withPmemLayers({ storage_configs: [disk('base'), disk('cow')] }, ['cow', 'base']), ['cow', 'base']);
  assert.deepEqual(withPmemLayers({ storage_configs: [disk('agent', true), disk('base')] }, ['base', 'extra']), ['agent', 'base', 'extra']);
});
