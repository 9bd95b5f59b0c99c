import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidDataError, NotFoundError } from '@cocoon/common/errors';
import { readModinfo } from './elf.ts';
import { formatModulesDep, loadOrder, moduleName, parseModulesDep } from './modules.ts';

const DEP = `kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/fs/erofs/erofs.ko: kernel/lib/libcrc32c.ko
kernel/lib/libcrc32c.ko:
kernel/net/vmw_vsock/vmw-vsock-virtio-transport.ko: kernel/net/vmw_vsock/vsock.ko
kernel/net/vmw_vsock/vsock.ko:
`;

describe('modules.dep resolver', () => {
  const graph = parseModulesDep(DEP);

  it('orders every module after its dependencies', () => {
    const order = loadOrder(['virtio_net', 'virtio_blk', 'erofs'], graph);
    assert.deepEqual(new Set(order), new Set(['virtio_ring', 'virtio', 'failover', 'net_failover', 'virtio_net', 'virtio_blk', 'libcrc32c', 'erofs']));
    for (const mod of order) {
      for (const dep of graph.get(mod)?.depends ?? []) assert.ok(order.indexOf(dep) < order.indexOf(mod), `${dep} before ${mod}`);
    }
    assert.equal(order.filter((m) => m === 'virtio').length, 1, 'shared dependencies load once');
  });

  it('treats - and _ in module names alike', () => {
    assert.equal(moduleName('kernel/net/vmw_vsock/vmw-vsock-virtio-transport.ko'), 'vmw_vsock_virtio_transport');
    assert.deepEqual(loadOrder(['vmw-vsock-virtio-transport'], graph), ['vsock', 'vmw_vsock_virtio_transport']);
  });

  it('fails clearly on a missing module or a cycle', () => {
    assert.throws(() => loadOrder(['nope'], graph), NotFoundError);
    const broken = parseModulesDep('kernel/a.ko: kernel/b.ko\nkernel/b.ko: kernel/gone.ko\n');
    assert.throws(() => loadOrder(['a'], broken), /gone not found \(needed by b\)/);
    const cyclic = parseModulesDep('kernel/a.ko: kernel/b.ko\nkernel/b.ko: kernel/a.ko\n');
    assert.throws(() => loadOrder(['a'], cyclic), InvalidDataError);
  });

  it('writes a modules.dep that parses back to the same transitive closure', () => {
    const written = formatModulesDep(graph);
    const again = parseModulesDep(written);
    assert.deepEqual([...again.keys()].sort(), [...graph.keys()].sort());
    // All four transitive dependencies, the first to load (a leaf) listed last.
    assert.match(written, /^kernel\/drivers\/net\/virtio_net\.ko:( \S+){3} kernel\/net\/core\/failover\.ko$/m);
    assert.deepEqual(new Set(loadOrder(['virtio_net'], again)), new Set(loadOrder(['virtio_net'], graph)));
  });
});

describe('ELF .modinfo reader', () => {
  it('reads depends= from a minimal ELF64 with a .modinfo section', () => {
    const modinfo = Buffer.from('license=GPL\0depends=virtio,virtio_ring\0name=virtio_blk\0');
    const shstr = Buffer.from('\0.modinfo\0.shstrtab\0');
    const dataAt = 64;
    const shstrAt = dataAt + modinfo.length;
    const shoff = shstrAt + shstr.length;
    const buf = Buffer.alloc(shoff + 3 * 64);
    buf.writeUInt32BE(0x7f454c46, 0);
    buf[4] = 2;
    buf[5] = 1;
    buf.writeBigUInt64LE(BigInt(shoff), 0x28);
    buf.writeUInt16LE(64, 0x3a);
    buf.writeUInt16LE(3, 0x3c);
    buf.writeUInt16LE(2, 0x3e);
    modinfo.copy(buf, dataAt);
    shstr.copy(buf, shstrAt);
    const section = (i: number, name: number, offset: number, size: number) => {
      buf.writeUInt32LE(name, shoff + i * 64);
      buf.writeBigUInt64LE(BigInt(offset), shoff + i * 64 + 24);
      buf.writeBigUInt64LE(BigInt(size), shoff + i * 64 + 32);
    };
    section(1, 1, dataAt, modinfo.length);
    section(2, 10, shstrAt, shstr.length);
    const info = readModinfo(buf, 'test.ko');
    assert.deepEqual(info.get('depends'), ['virtio,virtio_ring']);
    assert.deepEqual(info.get('name'), ['virtio_blk']);
    assert.throws(() => readModinfo(Buffer.from('not an elf file at all, padded to be long enough for the header check........'), 'x.ko'), InvalidDataError);
  });
});
