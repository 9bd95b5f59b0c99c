/**
 * HTTP over node:http/https, for registries (pulls and snapshot pushes) and cloud-image
 * downloads.
 *
 * Why not undici (used here before): undici 7 (the last major that runs on Node 20) crashes
 * the process with an uncatchable `AssertionError` in `Parser.finish` when a server closes the
 * connection while the response body is paused by backpressure (nodejs/undici#5360; fixed only
 * in undici 8, which needs Node 22). Servers that end a body by closing the connection (HTTP/1.0,
 * `Connection: close`) are common, and a download to disk always applies backpressure. Node's
 * own client handles both, and is what this module wraps: redirects (Authorization dropped
 * across origins), an idle timeout, an abort signal, and keep-alive pools per client.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface HttpResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  /** The body; read it, `dump()` it, or destroy it. */
  body: Readable & { dump(): Promise<void> };
  /** The URL that answered (after redirects). */
  url: URL;
}

export interface GetOptions {
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Longest silence while waiting for headers or between body chunks (ms). */
  idleTimeoutMs: number;
  maxRedirects?: number;
}

/** A request of any method; a body is sent as given (a stream is piped, with backpressure). */
export interface RequestOptions extends GetOptions {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST';
  body?: Buffer | Readable;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** A small keep-alive HTTP(S) client; `close()` ends its pooled connections. */
export class HttpClient {
  private readonly http = new HttpAgent({ keepAlive: true, maxSockets: 8 });
  private readonly https = new HttpsAgent({ keepAlive: true, maxSockets: 8 });

  /** GETs `url`, following up to `maxRedirects` (5) redirects. */
  get(url: URL | string, opts: GetOptions): Promise<HttpResponse> {
    return this.request(url, { ...opts, method: 'GET' });
  }

  /**
   * Sends one request. GET and HEAD follow up to `maxRedirects` (5) redirects; a request with
   * a body does not (its body cannot be sent twice) and returns the redirect as it came.
   */
  async request(url: URL | string, opts: RequestOptions): Promise<HttpResponse> {
    let current = new URL(url);
    let headers = { ...opts.headers };
    const follows = opts.method === 'GET' || opts.method === 'HEAD';
    for (let hops = 0; ; hops++) {
      const res = await this.once(current, headers, opts);
      const location = res.headers.location;
      if (!follows || !REDIRECTS.has(res.statusCode ?? 0) || !location) return wrap(res, current);
      res.resume();
      if (hops >= (opts.maxRedirects ?? 5)) throw new Error(`more than ${opts.maxRedirects ?? 5} redirects`);
      const next = new URL(location, current);
      // SECURITY: credentials go only to the origin they were given for (a registry's CDN gets none).
      if (next.origin !== current.origin) headers = withoutAuthorization(headers);
      current = next;
    }
  }

  /** Ends the pooled connections. */
  close(): void {
    this.http.destroy();
    this.https.destroy();
  }

  private once(url: URL, headers: Record<string, string>, opts: RequestOptions): Promise<IncomingMessage> {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return Promise.reject(new Error(`unsupported URL scheme ${url.protocol}`));
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, { method: opts.method, headers, agent: url.protocol === 'https:' ? this.https : this.http, signal: opts.signal, timeout: opts.idleTimeoutMs });
      // NOTE: `timeout` is socket inactivity, before and after the headers alike.
      req.on('timeout', () => req.destroy(new Error(`no data for ${Math.round(opts.idleTimeoutMs / 1000)} s`)));
      req.on('error', reject);
      req.on('response', resolve);
      const body = opts.body;
      if (body === undefined || Buffer.isBuffer(body)) req.end(body);
      // A failing source destroys the request (its 'error' rejects); a server that answers
      // before reading the whole body (401, 413) ends the pipe, and its answer is what counts.
      else pipeline(body, req).catch((err: unknown) => req.destroy(err as Error));
    });
  }
}

function wrap(res: IncomingMessage, url: URL): HttpResponse {
  const body = Object.assign(res, {
    dump: async (): Promise<void> => {
      if (res.complete || res.destroyed) return;
      res.resume();
      await new Promise<void>((resolve) => res.once('close', resolve));
    },
  });
  return { statusCode: res.statusCode ?? 0, headers: res.headers, body, url };
}

function withoutAuthorization(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
}

/** One header's value (the first when repeated), or null. */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | null {
  const v = headers[name];
  return Array.isArray(v) ? (v[0] ?? null) : (v ?? null);
}
