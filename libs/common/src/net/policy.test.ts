import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CocoonError } from '../errors.ts';
import { pickConflist, requirePortMappings } from './conflist.ts';
import { bridgeTapName, numQueues, queuePairs, randomMac, tapName } from './names.ts';
import { formatPublish, parseEgress, parseEgressRule, parsePublish, publishCollides } from './policy.ts';

const code = (fn: () => unknown): number => {
  try {
    fn();
  } catch (err) {
    return err instanceof CocoonError ? err.exitCode : -1;
  }
  return 0;
};

describe('network policy flags', () => {
  it('parses -p [IP:]HOST:GUEST[/proto] and refuses malformed ones', () => {
    assert.deepEqual(parsePublish('8080:80'), { host_port: 8080, container_port: 80, protocol: 'tcp' });
    assert.deepEqual(parsePublish('127.0.0.1:5353:53/udp'), { host_ip: '127.0.0.1', host_port: 5353, container_port: 53, protocol: 'udp' });
    assert.equal(formatPublish(parsePublish('10.0.0.1:1:2/udp')), '10.0.0.1:1:2/udp');
    for (const bad of ['80', '0:80', '8080:65536', 'a:b', '8080:80/sctp', '8080:80/tcp/x', '300.1.1.1:80:80', '1:2:3:4']) assert.equal(code(() => parsePublish(bad)), 2, bad);
  });

  it('parses --egress-rule CIDR[:PORT[/proto]] and needs --egress with rules', () => {
    assert.deepEqual(parseEgressRule('10.0.0.5'), { cidr: '10.0.0.5/32' });
    assert.deepEqual(parseEgressRule('10.0.0.0/8:443/tcp'), { cidr: '10.0.0.0/8', port: 443, protocol: 'tcp' });
    assert.deepEqual(parseEgressRule('10.0.0.53:53'), { cidr: '10.0.0.53/32', port: 53 });
    for (const bad of ['10.0.0.0/33', '10.0.0.0:0', '10.0.0.0:80/icmp', 'host:80', '::1']) assert.equal(code(() => parseEgressRule(bad)), 2, bad);
    assert.equal(parseEgress(undefined, []), undefined);
    assert.equal(code(() => parseEgress(undefined, ['10.0.0.0/8'])), 2);
    assert.equal(code(() => parseEgress('block', [])), 2);
    assert.deepEqual(parseEgress('deny', ['1.2.3.4']), { mode: 'deny', rules: [{ cidr: '1.2.3.4/32' }] });
  });

  it('finds host-port collisions across host addresses and protocols', () => {
    const p = parsePublish;
    assert.equal(publishCollides(p('8080:80'), p('8080:81')), true);
    assert.equal(publishCollides(p('127.0.0.1:8080:80'), p('8080:80')), true);
    assert.equal(publishCollides(p('127.0.0.1:8080:80'), p('127.0.0.2:8080:80')), false);
    assert.equal(publishCollides(p('8080:80/udp'), p('8080:80/tcp')), false);
  });

  it('names the pieces of a VM network as the Go cocoon', () => {
    const id = '0123456789abcdef0123456789abcdef';
    assert.equal(tapName(id, 3), 'tap01234567-3');
    assert.equal(bridgeTapName(id, 0), 'bt01234567-0');
    assert.equal(queuePairs(4), 4);
    assert.equal(queuePairs(4, 'firecracker'), 1);
    assert.equal(numQueues(queuePairs(1)), 2);
    const mac = randomMac(new Uint8Array([0xff, 1, 2, 3, 4, 5]));
    assert.equal(mac, 'fe:01:02:03:04:05', 'locally administered, unicast');
  });
});

describe('conflists', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cocoon-conflist-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('picks by name, defaults to the first file by name, and says what is missing', () => {
    assert.equal(code(() => pickConflist(join(dir, 'none'), undefined)), 8);
    writeFileSync(join(dir, '20-b.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'beta', plugins: [{ type: 'bridge' }, { type: 'portmap', capabilities: { portMappings: true } }] }));
    writeFileSync(join(dir, '10-a.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'alpha', plugins: [{ type: 'bridge' }] }));
    writeFileSync(join(dir, '05-ignored.conf'), 'not a conflist');
    assert.equal(pickConflist(dir, undefined).name, 'alpha');
    assert.equal(pickConflist(dir, 'beta').name, 'beta');
    assert.equal(code(() => pickConflist(dir, 'gamma')), 3);
    assert.equal(code(() => requirePortMappings(pickConflist(dir, 'alpha'))), 2);
    assert.equal(code(() => requirePortMappings(pickConflist(dir, 'beta'))), 0);
    writeFileSync(join(dir, '30-bad.conflist'), '{"name": "x"}');
    assert.equal(code(() => pickConflist(dir, undefined)), 9, 'an invalid conflist is named, not skipped');
  });
});
