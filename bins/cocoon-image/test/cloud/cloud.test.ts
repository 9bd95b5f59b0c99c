/** Cloud images through the CLI: served by a local HTTP server or read from files, made with qemu-img. */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import { runInProcess } from '@cocoon/common/testing/cli';
import { run } from '@cocoon/common/exec';
import { ImageResolveSchema } from '@cocoon/common/schemas/image';
import { ProgressEventSchema } from '@cocoon/common/schemas/progress';
import { SnapshotRefSchema } from '@cocoon/common/schemas/snapshot';
import { cli } from '../../src/cli.ts';

const work = mkdtempSync(join(tmpdir(), 'cocoon-cloud-'));
const files = join(work, 'files');
let server: Server;
let base: string;
/** An HTTP/1.0 server that ends every body by closing the connection (no Content-Length), as many simple servers do. */
let closer: TcpServer;
let closerBase: string;

async function cocoonImage(root: string, ...argv: string[]): Promise<{ code: number; json: unknown; stderr: string }> {
  const r = await runInProcess(cli, 'cocoon-image', argv, { COCOON_ROOT_DIR: root, COCOON_LOG_DIR: join(root, 'log') });
  return { code: r.code, json: r.stdout ? JSON.parse(r.stdout) : null, stderr: r.stderr };
}
const sha = (p: string) => `sha256:${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
const storeFiles = (root: string) => [join(root, 'images', 'blobs', 'sha256'), join(root, 'tmp')].flatMap((d) => (existsSync(d) ? readdirSync(d) : []));

before(async () => {
  await run('mkdir', ['-p', files]);
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'compat=1.1', join(files, 'v3.qcow2'), '64M']);
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'compat=0.10', join(files, 'v2.qcow2'), '64M']);
  const raw = Buffer.alloc(4 << 20, 1);
  raw.writeUInt16BE(0x55aa, 510);
  writeFileSync(join(files, 'disk.raw'), raw);
  // 1 MiB of random bytes: whole sectors, but nothing that says "disk" (no boot signature).
  const random = randomBytes(1 << 20);
  random.writeUInt16BE(0x1234, 510);
  writeFileSync(join(files, 'random.bin'), random);
  // A qcow2 with data in it (~4 MiB): large enough that a download to disk applies backpressure.
  await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', '-o', 'compat=1.1', join(files, 'disk.raw'), join(files, 'data.qcow2')]);
  writeFileSync(join(files, 'error.html'), '<!DOCTYPE html><html><body>404 Not Found</body></html>');
  writeFileSync(join(files, 'empty.img'), '');
  writeFileSync(join(files, 'disk.img.gz'), gzipSync(Buffer.alloc(1 << 20)));
  server = createServer((req, res) => {
    if (req.url?.startsWith('/private/')) {
      // Basic auth as bob:S3CRET, the credentials a URL may carry.
      if (req.headers.authorization !== `Basic ${Buffer.from('bob:S3CRET').toString('base64')}`) return void res.writeHead(401, { 'www-authenticate': 'Basic realm="x"' }).end();
      req.url = req.url.slice('/private'.length);
    }
    const path = join(files, (req.url ?? '/').slice(1));
    if (!existsSync(path)) return void res.writeHead(404).end('<html>nope</html>');
    res.writeHead(200, { 'content-length': statSync(path).size });
    createReadStream(path).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  closer = createTcpServer((sock) => {
    sock.once('data', (req) => {
      const path = join(files, /^GET \/(\S*)/.exec(req.toString('latin1'))?.[1] ?? '');
      // Headers and the whole body at once, then FIN, like python's http.server.
      sock.end(Buffer.concat([Buffer.from('HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n'), readFileSync(path)]));
    });
  });
  await new Promise<void>((resolve) => closer.listen(0, '127.0.0.1', resolve));
  closerBase = `http://127.0.0.1:${(closer.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise((resolve) => server.close(resolve));
  await new Promise((resolve) => closer.close(resolve));
  rmSync(work, { recursive: true, force: true });
});

test('a qcow2 v3 over HTTP is stored as is, read-only, by content hash', async () => {
  const root = mkdtempSync(join(work, 'root-'));
  const r = await cocoonImage(root, 'pull', '--format', 'json', `${base}/v3.qcow2`);
  assert.equal(r.code, 0, r.stderr);
  const [rec] = r.json as Array<{ kind: string; name: string; digest: string; layers: Array<{ digest: string; media_type: string }> }>;
  assert.equal(rec?.kind, 'cloud');
  assert.equal(rec?.name, 'v3.qcow2');
  assert.equal(rec?.digest, sha(join(files, 'v3.qcow2')));
  assert.equal(rec?.layers[0]?.digest, rec?.digest, 'no conversion');
  const disk = join(root, 'images', 'blobs', 'sha256', `${rec?.digest.slice(7)}.qcow2`);
  assert.equal(statSync(disk).mode & 0o777, 0o444);
  assert.deepEqual(readdirSync(join(root, 'tmp')), []);
});

test('qcow2 v2 and raw files are converted to qcow2 v3', async () => {
  const root = mkdtempSync(join(work, 'root-'));
  for (const src of [`${base}/v2.qcow2`, join(files, 'disk.raw')]) {
    const r = await cocoonImage(root, 'pull', '--format', 'json', src);
    assert.equal(r.code, 0, r.stderr);
    const [rec] = r.json as Array<{ digest: string; layers: Array<{ digest: string }> }>;
    assert.notEqual(rec?.layers[0]?.digest, rec?.digest);
    const disk = join(root, 'images', 'blobs', 'sha256', `${rec?.layers[0]?.digest.slice(7)}.qcow2`);
    const info = JSON.parse((await run('qemu-img', ['info', '--output', 'json', disk])).stdout) as { format: string; 'format-specific': { data: { compat: string } } };
    assert.equal(info.format, 'qcow2');
    assert.equal(info['format-specific'].data.compat, '1.1');
  }
});

test('bad cloud images: a clear error, the store unchanged', async () => {
  const root = mkdtempSync(join(work, 'root-'));
  const cases: Array<[string[], number, RegExp]> = [
    [[`${base}/error.html`], 9, /HTML page/],
    [[join(files, 'empty.img')], 9, /empty \(0 bytes\)/],
    [[`${base}/disk.img.gz`], 9, /gzip file.*gunzip/],
    [[`${base}/missing.qcow2`], 3, /not found \(404\)/],
    [['--max-size', '64K', `${base}/v3.qcow2`], 9, /size cap of 64K/],
    [[join(files, 'nope.img')], 3, /no such file/],
    [[`${base}/random.bin`], 9, /no MBR or GPT partition table.*--disk-format raw/],
  ];
  for (const [args, code, message] of cases) {
    const r = await cocoonImage(root, 'pull', ...args);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.deepEqual(storeFiles(root), []);
  }
  assert.equal(existsSync(join(root, 'images', 'index.json')), false);
});

test('resolve and rm know cloud disks; a snapshot keeps its image unless --force; --progress json', async () => {
  const root = mkdtempSync(join(work, 'root-'));
  const r = await cocoonImage(root, 'pull', '--format', 'json', '--progress', 'json', '--name', 'noble', `${base}/v2.qcow2`);
  assert.equal(r.code, 0, r.stderr);
  // stderr is NDJSON progress only: a download with the full size, then the qcow2 v3 conversion.
  const events = r.stderr.trim().split('\n').map((l) => ProgressEventSchema.parse(JSON.parse(l)));
  const size = statSync(join(files, 'v2.qcow2')).size;
  assert.ok(events.some((e) => e.phase === 'download' && e.state === 'done' && e.bytes === size && e.total === size));
  assert.ok(events.some((e) => e.phase === 'convert' && e.state === 'done'));
  const res = ImageResolveSchema.parse((await cocoonImage(root, 'resolve', 'noble')).json);
  assert.equal(res.kind, 'cloud');
  assert.equal(res.disks.length, 1);
  assert.deepEqual({ ...res.disks[0], path: undefined }, { path: undefined, serial: 'cocoon-root', read_only: true, format: 'qcow2' });
  assert.ok(res.disks[0]?.path.endsWith('.qcow2') && existsSync(res.disks[0].path));
  assert.equal(res.kernel, null);
  assert.deepEqual(res.cmdline, []);
  assert.equal(res.firmware, existsSync('/usr/share/OVMF/OVMF_CODE.fd') ? '/usr/share/OVMF/OVMF_CODE.fd' : null);
  // A snapshot (minimal record: the snapshot index may not exist at all) pins the image.
  const snap = SnapshotRefSchema.parse({ id: 'e'.repeat(32), name: 'snap1', image_id: res.id });
  mkdirSync(join(root, 'snapshots'), { recursive: true });
  writeFileSync(join(root, 'snapshots', 'index.json'), JSON.stringify({ version: 1, items: { [snap.id]: snap } }));
  const refused = await cocoonImage(root, 'rm', 'noble');
  assert.equal(refused.code, 5);
  assert.match(refused.stderr, /used by snapshot snap1/);
  rmSync(join(root, 'snapshots', 'index.json'));
  const removed = await cocoonImage(root, 'rm', 'noble');
  assert.equal(removed.code, 0, removed.stderr);
  assert.equal(existsSync(res.disks[0]?.path ?? ''), false, 'the qcow2 is deleted with its last record');
  assert.deepEqual(storeFiles(root), []);
});

test('a server that ends the body by closing the connection (HTTP/1.0): the pull works, no stack trace', async () => {
  const root = mkdtempSync(join(work, 'root-'));
  for (const file of ['v3.qcow2', 'data.qcow2']) {
    const r = await cocoonImage(root, 'pull', '--format', 'json', '--force', '--name', 'closed', `${closerBase}/${file}`);
    assert.equal(r.code, 0, r.stderr);
    const [rec] = r.json as Array<{ digest: string }>;
    assert.equal(rec?.digest, sha(join(files, file)), 'every byte up to the close');
  }
  assert.deepEqual(readdirSync(join(root, 'tmp')), []);
});

test('credentials in a URL go to the server only: never stored, listed or printed', async () => {
  const root = mkdtempSync(join(work, 'root-'));
  const url = `${base.replace('://', '://bob:S3CRET@')}/private/v3.qcow2`;
  const r = await cocoonImage(root, 'pull', '--format', 'json', '--name', 'priv', url);
  assert.equal(r.code, 0, r.stderr);
  const [rec] = r.json as Array<{ source: string }>;
  assert.equal(rec?.source, `${base}/private/v3.qcow2`);
  const seen = [readFileSync(join(root, 'images', 'index.json'), 'utf8'), JSON.stringify(r.json), r.stderr];
  for (const argv of [['ls', '--format', 'json'], ['ls', '--format', 'table'], ['inspect', 'priv']]) {
    const out = await runInProcess(cli, 'cocoon-image', argv, { COCOON_ROOT_DIR: root, COCOON_LOG_DIR: join(root, 'log') });
    seen.push(out.stdout, out.stderr);
  }
  const wrong = await cocoonImage(root, 'pull', '--name', 'w', url.replace('S3CRET', 'WR0NG'));
  assert.equal(wrong.code, 10);
  assert.match(wrong.stderr, /access denied \(401\)/);
  seen.push(wrong.stderr, ...readdirSync(join(root, 'log')).map((f) => readFileSync(join(root, 'log', f), 'utf8')));
  for (const text of seen) {
    assert.doesNotMatch(text, /S3CRET|WR0NG/);
    assert.doesNotMatch(text, /bob[:@]/);
  }
});

test('a URL that is not one is a usage error (2) before anything is made', async () => {
  const root = mkdtempSync(join(work, 'root-'));
  for (const url of ['http://127.0.0.1:99999/x.qcow2', 'http://bob:S3CRET@[::1/x.qcow2']) {
    const r = await cocoonImage(root, 'pull', url);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /is not a valid URL/);
    assert.doesNotMatch(r.stderr, /S3CRET/);
  }
  assert.deepEqual(storeFiles(root), []);
});
