import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import type { NetworkConfig, VmRecord } from '@cocoon/common/schemas/vm';
import { identityLines, onlineLines } from './reidentify.ts';

const nic = (mac: string, ip: string): NetworkConfig => ({ tap: 'tapa-0', mac, num_queues: 2, queue_size: 512, backend: 'cni', network: { ip, gateway: '10.0.0.1', prefix: 24 } });
const vm = (nics: NetworkConfig[]) => ({ config: { name: 'web' }, network_configs: nics }) as unknown as VmRecord;
/** The guest's shell is busybox's (the default guest); the script must parse there. */
const parses = (script: string) => execFileSync('busybox', ['sh', '-n', '-c', script]);

describe('re-identification scripts', () => {
  it('configure a NIC the guest had as eth<i>, and find one plugged live by its MAC', () => {
    const lines = identityLines(vm([nic('02:00:00:00:00:01', '10.0.0.5'), nic('02:00:00:00:00:02', '10.0.1.5')]), { nics: 1 });
    assert.ok(lines.includes("ip link set dev eth0 address '02:00:00:00:00:01'"));
    assert.ok(lines.some((l) => l.startsWith('nic1=$(')));
    assert.ok(lines.includes('ip addr add \'10.0.1.5/24\' dev "$nic1"'));
    parses(['set -e', ...lines, ...onlineLines()].join('\n'));
  });

  it('the MAC lookup names the interface that has it (here: the host\'s loopback)', () => {
    const [lookup] = identityLines(vm([nic('00:00:00:00:00:00', '10.0.0.5')]), { nics: 1 }).filter((l) => l.startsWith('nic0='));
    assert.equal(execFileSync('sh', ['-c', `set -e\n${lookup}\necho "$nic0"`], { encoding: 'utf8' }).trim(), 'lo');
  });
});
