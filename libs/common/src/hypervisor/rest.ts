/**
 * JSON over HTTP on a Unix socket (the Cloud Hypervisor and Firecracker APIs), with undici.
 * Connection failures and 5xx answers are retried with backoff until the call's deadline
 * (a hypervisor that is still starting, or busy); a 4xx is final. Every attempt has its own
 * timeout, so a hung API cannot hang cocoon.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { ExternalError, TimeoutError } from '../errors.ts';
import type { ApiRequest } from './index.ts';

export interface RestOptions {
  /** Total time for the call, retries included (ms). */
  timeoutMs?: number;
  /** Attempts on connection errors and 5xx (1 = no retry). */
  attempts?: number;
}

export interface RestResponse {
  status: number;
  body: unknown;
}

/** A client for one API socket; `base` is the URL prefix (`/api/v1` for Cloud Hypervisor). */
export class RestClient {
  private readonly agent: Agent;

  constructor(
    readonly socket: string,
    private readonly base = '',
  ) {
    this.agent = new Agent({ connect: { socketPath: socket }, pipelining: 0 });
  }

  /** Sends `req`; resolves with a 2xx answer, throws ExternalError (4xx, or 5xx after retries) or TimeoutError. */
  async call(req: ApiRequest, opts: RestOptions = {}): Promise<RestResponse> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const attempts = opts.attempts ?? 5;
    const deadline = Date.now() + timeoutMs;
    let last: Error = new TimeoutError(`${req.method} ${req.path}: no answer within ${timeoutMs} ms`);
    for (let attempt = 1, delay = 50; attempt <= attempts; attempt++, delay = Math.min(delay * 2, 1000)) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      try {
        const res = await this.once(req, left);
        if (res.status < 500) {
          if (res.status >= 400) throw new ApiError(req, res);
          return res;
        }
        last = new ApiError(req, res);
      } catch (err) {
        if (err instanceof ApiError && err.status < 500) throw err;
        last = err instanceof ApiError ? err : new ExternalError(`${req.method} ${req.path} on ${this.socket}: ${(err as Error).message}`);
      }
      if (attempt < attempts) await sleep(Math.min(delay, Math.max(deadline - Date.now(), 0)));
    }
    throw last;
  }

  /** Closes the connection pool. */
  async close(): Promise<void> {
    await this.agent.close();
  }

  private async once(req: ApiRequest, timeoutMs: number): Promise<RestResponse> {
    const body = req.body === undefined ? undefined : JSON.stringify(req.body);
    const res = await request(`http://localhost${this.base}${req.path}`, {
      dispatcher: this.agent,
      method: req.method,
      headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      body,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.body.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text (error answers are often plain)
    }
    return { status: res.statusCode, body: parsed };
  }
}

/** A non-2xx answer. */
export class ApiError extends ExternalError {
  readonly status: number;

  constructor(req: ApiRequest, res: RestResponse) {
    const detail = typeof res.body === 'string' ? res.body : JSON.stringify(res.body);
    super(`${req.method} ${req.path} answered ${res.status}${detail ? `: ${detail.slice(0, 300)}` : ''}`);
    this.status = res.status;
  }
}
