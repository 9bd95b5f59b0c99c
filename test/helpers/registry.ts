/**
 * A real OCI registry for tests: Debian's `docker-registry` (distribution 2.8) on
 * 127.0.0.1:<free port> with a temporary storage dir and a config file written here.
 * Variants: anonymous, htpasswd basic auth, and bearer tokens from a tiny token server
 * (RS256 JWTs whose signing certificate the registry trusts). Also a fault-injecting
 * proxy that sits in front of a registry to serve corrupt, truncated or failing blobs.
 */
import { createHash, createSign, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as netServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { run, spawn } from '@cocoon/common/exec';

/** The test user of the auth variants. */
export const TEST_USER = { username: 'tester', password: 's3cret' };
// NOTE: bcrypt (cost 4, fast to verify) of "s3cret", made once with Python's crypt module
// (libxcrypt); embedded so the tests need neither apache2-utils nor a bcrypt package.
const TEST_HTPASSWD = 'tester:$2b$04$uEHpxcTkTwbVpJ/05EKPQeHRNisTxMADNn2DGKZ/Y6HYjAzjedUSy\n';

export interface TestRegistry {
  /** `127.0.0.1:<port>` */
  host: string;
  storageDir: string;
  stop(): Promise<void>;
}

export interface RegistryOptions {
  auth?: 'none' | 'basic' | 'token';
  /** Reuse a storage dir (e.g. to restart with another auth on the same content). */
  storageDir?: string;
  /** Token variant: grant `pull` to anonymous clients. */
  anonymousPull?: boolean;
}

/** A free TCP port on 127.0.0.1 (the kernel picks; a tiny race is acceptable in tests). */
export async function freePort(): Promise<number> {
  const srv = netServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** Starts a registry; resolves when `/v2/` answers. */
export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'cocoon-registry-'));
  const storageDir = opts.storageDir ?? join(dir, 'storage');
  const port = await freePort();
  const stops: Array<() => Promise<void>> = [];
  const lines = [
    'version: 0.1',
    'log: { level: error, accesslog: { disabled: true } }',
    `storage: { filesystem: { rootdirectory: "${storageDir}" }, delete: { enabled: true } }`,
    `http: { addr: "127.0.0.1:${port}", secret: "${randomBytes(8).toString('hex')}" }`,
  ];
  if (opts.auth === 'basic') {
    writeFileSync(join(dir, 'htpasswd'), TEST_HTPASSWD);
    lines.push(`auth: { htpasswd: { realm: cocoon-test, path: "${join(dir, 'htpasswd')}" } }`);
  } else if (opts.auth === 'token') {
    const tokens = await startTokenServer(dir, opts.anonymousPull ?? false);
    stops.push(tokens.stop);
    lines.push(`auth: { token: { realm: "${tokens.realm}", service: cocoon-test, issuer: cocoon-test-issuer, rootcertbundle: "${tokens.certFile}" } }`);
  }
  writeFileSync(join(dir, 'config.yml'), `${lines.join('\n')}\n`);
  const child = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { reject: false, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const host = `127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null || i > 200) throw new Error(`docker-registry did not start (install the Debian package docker-registry): ${stderr.slice(-500)}`);
    if ((await status(`http://${host}/v2/`)) > 0) break;
    await sleep(25);
  }
  stops.push(async () => {
    child.kill('SIGTERM');
    await child;
    // NOTE: a caller-given storage dir is the caller's to remove.
    rmSync(dir, { recursive: true, force: true });
  });
  return { host, storageDir, stop: async () => void (await Promise.all(stops.map((s) => s()))) };
}

async function status(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = httpRequest(url, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** Copies an OCI layout (`oci:DIR:TAG`) into the registry with skopeo. */
export async function pushOciLayout(layoutDir: string, tag: string, dest: string, opts: { all?: boolean; creds?: typeof TEST_USER } = {}): Promise<void> {
  const args = ['copy', '--quiet', '--dest-tls-verify=false', ...(opts.all ? ['--all'] : [])];
  if (opts.creds) args.push('--dest-creds', `${opts.creds.username}:${opts.creds.password}`);
  await run('skopeo', [...args, `oci:${layoutDir}:${tag}`, `docker://${dest}`], { timeoutMs: 60_000 });
}

interface TokenServer {
  realm: string;
  certFile: string;
  stop(): Promise<void>;
}

/** A bearer token server: Basic-authenticated users get what they ask for, others pull or nothing. */
async function startTokenServer(dir: string, anonymousPull: boolean): Promise<TokenServer> {
  const keyFile = join(dir, 'token.key');
  const certFile = join(dir, 'token.crt');
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=cocoon-test-token']);
  const key = readFileSync(keyFile, 'utf8');
  const der = Buffer.from(readFileSync(certFile, 'utf8').replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const user = basicUser(req.headers.authorization);
    if (req.headers.authorization && !user) return void res.writeHead(401).end('{"details":"bad credentials"}');
    const access = grants(url.searchParams.getAll('scope'), user !== null, anonymousPull);
    const token = signJwt(key, der, url.searchParams.get('service') ?? '', user ?? 'anonymous', access);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { realm: `http://127.0.0.1:${port}/token`, certFile, stop: () => closeServer(server) };
}

function basicUser(header: string | undefined): string | null {
  if (!header?.startsWith('Basic ')) return null;
  const plain = Buffer.from(header.slice(6), 'base64').toString();
  return plain === `${TEST_USER.username}:${TEST_USER.password}` ? TEST_USER.username : null;
}

function grants(scopes: string[], authenticated: boolean, anonymousPull: boolean): object[] {
  return scopes.flatMap((scope) => {
    const [type, name, actions] = [scope.split(':')[0], scope.split(':').slice(1, -1).join(':'), scope.split(':').pop() ?? ''];
    const wanted = actions.split(',').filter(Boolean);
    const allowed = authenticated ? wanted : anonymousPull ? wanted.filter((a) => a === 'pull') : [];
    return allowed.length ? [{ type, name, actions: allowed }] : [];
  });
}

function signJwt(key: string, certDer: Buffer, audience: string, subject: string, access: object[]): string {
  const b64 = (v: object | Buffer) => (Buffer.isBuffer(v) ? v : Buffer.from(JSON.stringify(v))).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const header = { typ: 'JWT', alg: 'RS256', x5c: [certDer.toString('base64')] };
  const claims = { iss: 'cocoon-test-issuer', sub: subject, aud: audience, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${createSign('RSA-SHA256').update(input).sign(key).toString('base64url')}`;
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

/**
 * What the fault proxy does with one request. `close` answers like an HTTP/1.0 server: no
 * Content-Length, the body ended by closing the connection, headers and body in one write.
 */
export type Fault = 'pass' | 'corrupt' | 'truncate' | 'close' | { status: number };

export interface FaultProxy {
  host: string;
  /** How many requests each path saw. */
  hits: Map<string, number>;
  stop(): Promise<void>;
}

/** A proxy in front of `target` that applies `fault(path)` to every request. */
export async function startFaultProxy(target: string, fault: (path: string) => Fault): Promise<FaultProxy> {
  const hits = new Map<string, number>();
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const f = fault(path);
    if (typeof f === 'object') return void res.writeHead(f.status, { 'content-type': 'application/json' }).end('{"errors":[{"code":"INJECTED","message":"injected failure"}]}');
    forward(target, req, res, f);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { host: `127.0.0.1:${port}`, hits, stop: () => closeServer(server) };
}

function forward(target: string, req: IncomingMessage, res: ServerResponse, fault: Exclude<Fault, { status: number }>): void {
  const up = httpRequest(`http://${target}${req.url}`, { method: req.method, headers: { ...req.headers, host: target } }, (upRes) => {
    if (fault === 'close') return void closeDelimited(upRes, res);
    res.writeHead(upRes.statusCode ?? 502, upRes.headers);
    if (fault === 'pass') return void upRes.pipe(res);
    const chunks: Buffer[] = [];
    upRes.on('data', (c: Buffer) => chunks.push(c));
    upRes.on('end', () => {
      const body = Buffer.concat(chunks);
      if (fault === 'corrupt' && body.length > 0) body.writeUInt8((body.readUInt8(body.length >> 1) ^ 0xff), body.length >> 1);
      // NOTE: truncate sends half the body under the full Content-Length, then drops the socket.
      if (fault === 'truncate') return void res.write(body.subarray(0, body.length >> 1), () => res.destroy());
      res.end(body);
    });
  });
  up.on('error', () => res.destroy());
  req.pipe(up);
}

/** Sends `upRes` as an HTTP/1.0 server would: raw on the socket, body ended by the close. */
function closeDelimited(upRes: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  upRes.on('data', (c: Buffer) => chunks.push(c));
  upRes.on('end', () => {
    const keep = Object.entries(upRes.headers).filter(([k]) => !['content-length', 'transfer-encoding', 'connection', 'keep-alive'].includes(k));
    const head = [`HTTP/1.0 ${upRes.statusCode ?? 502} ${upRes.statusMessage ?? ''}`, ...keep.map(([k, v]) => `${k}: ${String(v)}`), 'connection: close', '', ''].join('\r\n');
    res.socket?.end(Buffer.concat([Buffer.from(head, 'latin1'), ...chunks]));
  });
}

/** sha256:<hex> of `data`. */
export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}
