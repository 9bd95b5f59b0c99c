/**
 * A small OCI distribution client over node:http (see `../http/client.ts` for why not undici):
 * `/v2/` ping, the Basic and Bearer challenge flows, manifests and blobs. One client talks
 * to one repository.
 */
import type { Readable } from 'node:stream';
import { CocoonError, ExitCode, ExternalError } from '../errors.ts';
import { headerValue, HttpClient, type HttpResponse, type RequestOptions } from '../http/client.ts';
import { RegistryErrorSchema, TokenResponseSchema } from '../schemas/registry.ts';
import { log } from '../log.ts';
import { basicHeader, parseChallenges, type Credentials } from './auth.ts';
import { apiHost, isLoopbackRegistry } from './reference.ts';

export interface RegistryClientOptions {
  registry: string;
  repository: string;
  /** Plain HTTP: allowed only when named with `--insecure` or a loopback registry. */
  insecure: boolean;
  credentials: Credentials | null;
  /** Time to wait for headers and between body chunks (ms). */
  timeoutMs?: number;
  /** Ask the token server for push rights too (`repository:<name>:pull,push`). */
  push?: boolean;
}

/** A request body that can be produced again (a 401 replays the request after authenticating). */
export type BodySource = () => Buffer | Readable;

/** An HTTP error from the registry that says which request failed and why. */
export class RegistryHttpError extends CocoonError {
  constructor(readonly status: number, what: string, detail: string) {
    const code = status === 404 ? ExitCode.NotFound : ExitCode.External;
    super(code, `${what}: registry answered ${status}${detail ? ` (${detail})` : ''}`);
  }
}

type Response = HttpResponse;

export class RegistryClient {
  private authorization: string | null = null;
  private readonly base: string;
  private readonly http = new HttpClient();
  private readonly timeoutMs: number;

  constructor(readonly opts: RegistryClientOptions) {
    const plain = opts.insecure || isLoopbackRegistry(opts.registry);
    this.base = `${plain ? 'http' : 'https'}://${apiHost(opts.registry)}`;
    // NOTE: blob GETs are often redirected to a CDN; the client drops Authorization across origins.
    this.timeoutMs = opts.timeoutMs ?? 60_000;
  }

  /** `GET /v2/`: learns whether and how the registry wants authentication, and authenticates. */
  async ping(): Promise<void> {
    const res = await this.send('GET', '/v2/', {});
    await res.body.dump();
    if (res.statusCode === 401) await this.authenticate(header(res, 'www-authenticate'));
    else if (res.statusCode >= 400) throw new RegistryHttpError(res.statusCode, `${this.opts.registry}/v2/`, '');
  }

  /** GET of a repository path (`manifests/<ref>`, `blobs/<digest>`), re-authenticating once on 401. */
  async get(path: string, headers: Record<string, string>, signal?: AbortSignal): Promise<Response> {
    const url = `/v2/${this.opts.repository}/${path}`;
    let res = await this.send('GET', url, headers, signal);
    if (res.statusCode === 401) {
      await res.body.dump();
      await this.authenticate(header(res, 'www-authenticate'));
      res = await this.send('GET', url, headers, signal);
    }
    if (res.statusCode >= 400) {
      const detail = await errorDetail(res);
      if (res.statusCode === 401 || res.statusCode === 403) {
        throw new CocoonError(ExitCode.External, `${this.opts.registry}/${this.opts.repository}: access denied (${res.statusCode}${detail ? `: ${detail}` : ''}); give credentials with --username/--password, COCOON_REGISTRY_USERNAME/PASSWORD or docker login`);
      }
      throw new RegistryHttpError(res.statusCode, `${this.opts.registry}/${this.opts.repository} ${path}`, detail);
    }
    return res;
  }

  /**
   * Any request to a repository path or an absolute upload URL, re-authenticating once on
   * 401; a status of `ok` is returned, anything else is a RegistryHttpError.
   */
  async call(method: 'HEAD' | 'PUT' | 'POST', path: string, o: { headers?: Record<string, string>; body?: BodySource; ok: number[] }): Promise<Response> {
    const url = path.startsWith('http') ? path : `/v2/${this.opts.repository}/${path}`;
    let res = await this.send(method, url, o.headers ?? {}, undefined, o.body?.());
    if (res.statusCode === 401) {
      await res.body.dump();
      await this.authenticate(header(res, 'www-authenticate'));
      res = await this.send(method, url, o.headers ?? {}, undefined, o.body?.());
    }
    if (!o.ok.includes(res.statusCode)) throw new RegistryHttpError(res.statusCode, `${method} ${this.opts.registry}/${this.opts.repository} ${path.startsWith('http') ? 'upload' : path}`, await errorDetail(res));
    return res;
  }

  /** Whether the repository has blob `digest` (a push skips what is there). */
  async hasBlob(digest: string): Promise<boolean> {
    const res = await this.call('HEAD', `blobs/${digest}`, { ok: [200, 404] });
    await res.body.dump();
    return res.statusCode === 200;
  }

  /** Uploads a blob in one PUT (`POST uploads/` then `PUT <location>?digest=`). */
  async putBlob(digest: string, size: number, body: BodySource): Promise<void> {
    const started = await this.call('POST', 'blobs/uploads/', { ok: [202] });
    await started.body.dump();
    const location = header(started, 'location');
    if (!location) throw new ExternalError(`${this.opts.registry}: the registry started an upload without a Location`);
    const target = new URL(location, this.base);
    target.searchParams.set('digest', digest);
    const done = await this.call('PUT', target.toString(), { headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) }, body, ok: [201] });
    await done.body.dump();
  }

  /** Puts a manifest under `reference` (a tag or its digest). */
  async putManifest(reference: string, mediaType: string, body: Buffer): Promise<void> {
    const res = await this.call('PUT', `manifests/${reference}`, { headers: { 'content-type': mediaType }, body: () => body, ok: [201] });
    await res.body.dump();
  }

  /** Releases the connection pool. */
  async close(): Promise<void> {
    this.http.close();
  }

  private async send(method: RequestOptions['method'], path: string, headers: Record<string, string>, signal?: AbortSignal, body?: Buffer | Readable): Promise<Response> {
    const all = { 'user-agent': 'cocoon/0.1', ...headers, ...(this.authorization ? { authorization: this.authorization } : {}) };
    try {
      return await this.http.request(path.startsWith('http') ? path : `${this.base}${path}`, { method, headers: all, signal, body, idleTimeoutMs: this.timeoutMs });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new ExternalError(`cannot reach registry ${this.opts.registry} (${this.base}): ${(err as Error).message}`, { cause: err });
    }
  }

  private async authenticate(wwwAuthenticate: string | null): Promise<void> {
    const challenges = parseChallenges(wwwAuthenticate ?? '');
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const creds = this.opts.credentials;
    if (bearer?.params.realm) {
      this.authorization = `Bearer ${await this.fetchToken(bearer.params.realm, bearer.params.service)}`;
      return;
    }
    if (challenges.some((c) => c.scheme === 'basic') && creds) {
      this.authorization = basicHeader(creds);
      return;
    }
    throw new CocoonError(ExitCode.External, `${this.opts.registry}: authentication required; give credentials with --username/--password, COCOON_REGISTRY_USERNAME/PASSWORD or docker login`);
  }

  private async fetchToken(realm: string, service: string | undefined): Promise<string> {
    const url = new URL(realm);
    if (service) url.searchParams.set('service', service);
    url.searchParams.set('scope', `repository:${this.opts.repository}:${this.opts.push ? 'pull,push' : 'pull'}`);
    const creds = this.opts.credentials;
    log().debug({ realm: url.origin + url.pathname, user: creds?.username ?? null }, 'registry token');
    let res: Response;
    try {
      res = await this.http.get(url, { headers: creds ? { authorization: basicHeader(creds) } : {}, idleTimeoutMs: this.timeoutMs });
    } catch (err) {
      throw new ExternalError(`cannot reach the token server ${url.origin}: ${(err as Error).message}`, { cause: err });
    }
    if (res.statusCode !== 200) {
      const detail = await errorDetail(res);
      throw new CocoonError(ExitCode.External, `token server ${url.origin} refused ${creds ? `user ${creds.username}` : 'anonymous access'} (${res.statusCode}${detail ? `: ${detail}` : ''})`);
    }
    const parsed = TokenResponseSchema.safeParse(await readJson(res, 1 << 20, 'token response'));
    const token = parsed.success ? (parsed.data.token ?? parsed.data.access_token) : undefined;
    if (!token) throw new ExternalError(`token server ${url.origin} sent no token`);
    return token;
  }
}

function header(res: Response, name: string): string | null {
  return headerValue(res.headers, name);
}

/** Reads a JSON body of at most `max` bytes. */
export async function readJson(res: Response, max: number, what: string): Promise<unknown> {
  const buf = await readBody(res, max, what);
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch {
    throw new ExternalError(`${what}: not valid JSON`);
  }
}

/** Reads a whole body of at most `max` bytes (manifests, configs, errors). */
export async function readBody(res: Response, max: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of res.body) {
    n += (chunk as Buffer).length;
    if (n > max) {
      res.body.destroy();
      throw new ExternalError(`${what}: larger than ${max} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The first error message of a registry error body (`{"errors":[{"message":…}]}`), if any. */
async function errorDetail(res: Response): Promise<string> {
  try {
    const parsed = RegistryErrorSchema.safeParse(await readJson(res, 64 << 10, 'error'));
    const first = parsed.success ? parsed.data.errors[0] : undefined;
    return (first?.message ?? first?.code ?? '').slice(0, 200);
  } catch {
    return '';
  }
}
