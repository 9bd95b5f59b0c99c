/**
 * Contract tests: every request body the Cloud Hypervisor and Firecracker drivers can send,
 * for a matrix of VMs, validated against the upstream API descriptions (shared/specs, closed
 * objects: an unknown field or path fails), and every CH command line parsed with CH's
 * option grammar and turned into a VmConfig the spec accepts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseArgv, vmConfigOf } from '../../test/stand-ins/ch-grammar.mjs';
import { loadSpec } from '../../test/stand-ins/specs.mjs';
import { ociDisks, testLaunchSpec } from '../testing/launch-spec.ts';
import type { ApiRequest, LaunchSpec } from './index.ts';
import { chAddDisk, chAddNet, chInfo, chPause, chPing, chPowerButton, chRemoveDevice, chRestore, chResume, chShutdown, chSnapshot, CH_API_BASE } from './cloud-hypervisor/api.ts';
import { chCommandLine } from './cloud-hypervisor/args.ts';
import { fcAction, fcBootRequests, fcDriveSwaps, fcInfo, fcSnapshotCreate, fcSnapshotLoad, fcVmState } from './firecracker/requests.ts';
import { tuningFor } from './tuning.ts';
import type { NetworkConfig } from '../schemas/vm.ts';

const ch = loadSpec('cloud-hypervisor');
const fc = loadSpec('firecracker');

const nic = (i: number, ip = true): NetworkConfig => ({
  tap: `tap${i}`, mac: `02:00:00:00:00:0${i}`, num_queues: 2, queue_size: 512, backend: 'cni',
  ...(ip ? { network: { ip: `10.0.0.${i + 2}`, gateway: '10.0.0.1', prefix: 24 } } : {}),
});

/** The matrix: vCPUs × memory × NICs × boot kind × Windows × hugepages × direct I/O. */
function matrix(): Array<{ label: string; spec: LaunchSpec }> {
  const out: Array<{ label: string; spec: LaunchSpec }> = [];
  for (const cpu of [1, 4]) {
    for (const memory of [256 * 2 ** 20, 4 * 2 ** 30]) {
      for (const nics of [0, 1, 3]) {
        for (const kind of ['oci', 'cloud', 'windows'] as const) {
          for (const hugepages of [false, true]) {
            for (const noDirect of [false, true]) {
              const windows = kind === 'windows';
              const tuning = { ...tuningFor({ memory, windows, no_direct_io: noDirect }, hugepages) };
              const cloud = kind !== 'oci';
              const disks = cloud
                ? [{ path: '/r/run/x/root.qcow2', serial: 'cocoon-root', read_only: false, format: 'qcow2' as const, role: 'cow' as const, direct: !noDirect },
                  { path: '/r/run/x/data-logs.raw', serial: 'cocoon-data-logs', read_only: false, format: 'raw' as const, role: 'data' as const, direct: !noDirect },
                  ...(windows ? [] : [{ path: '/r/run/x/cidata.img', serial: 'cidata', read_only: true, format: 'raw' as const, role: 'cidata' as const, direct: false }])]
                : ociDisks().map((d) => ({ ...d, direct: d.direct && !noDirect }));
              out.push({
                label: `cpu=${cpu} mem=${memory >> 20}M nics=${nics} ${kind} hugepages=${hugepages} direct=${!noDirect}`,
                spec: testLaunchSpec({
                  cpu, memory, tuning, windows, disks,
                  nics: Array.from({ length: nics }, (_, i) => nic(i, i !== 1)),
                  ...(cloud ? { kernel: null, initrd: null, cmdline: '', firmware: '/usr/share/cloud-hypervisor/CLOUDHV.fd' } : {}),
                }),
              });
            }
          }
        }
      }
    }
  }
  return out;
}

const check = (spec: ReturnType<typeof loadSpec>, base: string, reqs: ApiRequest[], label: string) => {
  for (const r of reqs) assert.deepEqual(spec.validate(r.method, `${base}${r.path}`, r.body), [], `${label}: ${r.method} ${r.path} ${JSON.stringify(r.body)}`);
};

describe('driver requests against the hypervisors\' API descriptions', () => {
  const cases = matrix();
  it(`covers the matrix (${cases.length} VM shapes)`, () => assert.equal(cases.length, 2 * 2 * 3 * 3 * 2 * 2));

  it('CH: every command line follows the option grammar and makes a VmConfig the spec accepts', () => {
    for (const { label, spec } of cases) {
      const parsed = parseArgv(chCommandLine(spec).args);
      const config = vmConfigOf(parsed);
      assert.deepEqual(ch.validateComponent('VmConfig', config), [], label);
      assert.equal(config.cpus.kvm_hyperv ?? false, spec.windows, `${label}: kvm_hyperv for Windows only`);
      assert.equal(Boolean(config.balloon), spec.memory >= 256 * 2 ** 20 && !spec.windows, `${label}: balloon`);
      assert.equal(config.memory.hugepages ?? false, spec.tuning.hugepages, label);
      assert.equal(config.disks?.length, spec.disks.length, label);
      for (const [i, d] of (config.disks ?? []).entries()) assert.equal(d.direct ?? false, spec.disks[i]!.direct, `${label}: disk ${i} direct`);
      assert.equal(config.net?.length ?? 0, spec.nics.length, label);
      for (const n of config.net ?? []) assert.equal(n.num_queues, 2 * spec.cpu);
    }
  });

  it('CH: every REST call (lifecycle, snapshot/restore with OnDemand, NIC swap, disk hot-plug) validates', () => {
    for (const { label, spec } of cases) {
      const reqs = [chPing(), chInfo(), chPowerButton(), chShutdown(), chPause(), chResume(), chSnapshot('/s'), chRestore('/s'), chRestore('/s', { onDemand: true, resume: true }), chRemoveDevice('net0'), chAddDisk(spec.disks[0]!, spec, 'disk9')];
      for (const [i, n] of spec.nics.entries()) reqs.push(chAddNet(n, spec, `net${i}`));
      check(ch, CH_API_BASE, reqs, label);
    }
  });

  it('FC: the boot sequence, Ctrl-Alt-Del, pause/snapshot/resume, load with network and vsock overrides and the drive swaps validate', () => {
    for (const { label, spec } of cases.filter((c) => c.spec.kernel !== null)) {
      assert.ok(fcDriveSwaps(spec.disks).length > 0, `${label}: the writable drives are swapped`);
      check(fc, '', [fcInfo(), ...fcBootRequests(spec), fcAction('SendCtrlAltDel'), fcVmState('Paused'), fcSnapshotCreate('/s'), fcVmState('Resumed'), fcSnapshotLoad('/s', spec.nics, spec.paths.vsockSocket), ...fcDriveSwaps(spec.disks)], label);
    }
  });

  it('the validators are strict: an unknown field, path or method fails', () => {
    assert.notDeepEqual(ch.validate('PUT', '/api/v1/vm.add-net', { tap: 't', colour: 'red' }), []);
    assert.notDeepEqual(ch.validate('PUT', '/api/v1/vm.frobnicate', {}), []);
    assert.notDeepEqual(fc.validate('DELETE', '/drives/drive0', undefined), []);
    assert.notDeepEqual(fc.validate('PUT', '/machine-config', { vcpu_count: 1 }), [], 'required mem_size_mib');
    assert.throws(() => parseArgv(['--disk', 'path=/x,colour=red']), /unknown option "colour"/);
    assert.throws(() => parseArgv(['--memory', 'size=lots']), /not a valid size/);
  });
});
