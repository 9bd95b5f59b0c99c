/**
 * Where a cloud image comes from: an http(s) URL or a file. A URL is checked before anything
 * is made (a bad one is a usage error), and its credentials (`http://user:pass@host/…`) are
 * kept apart: they go into the request's Authorization header and nowhere else, so records,
 * output, progress events, logs and error messages only ever show the URL without them.
 */
import { UsageError } from '@cocoon/common/errors';

export interface CloudSource {
  /** What is stored and printed: the file path, or the URL without credentials. */
  label: string;
  /** The URL to request (no credentials), or null for a file. */
  url: URL | null;
  /** `Basic …` from the URL's credentials, or null. */
  authorization: string | null;
}

/** Whether `source` names a URL rather than a file. */
export function isUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

/** Parses `source` (a URL or a file path); throws a UsageError for a URL that is not one. */
export function parseSource(source: string, flag = 'IMAGE'): CloudSource {
  if (!isUrl(source)) return { label: source, url: null, authorization: null };
  let url: URL;
  try {
    url = new URL(source);
  } catch {
    throw new UsageError(`${flag}: "${redactUrl(source)}" is not a valid URL (check the host and the port, 1-65535)`);
  }
  const authorization = url.username || url.password ? `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}` : null;
  url.username = '';
  url.password = '';
  return { label: url.href, url, authorization };
}

/** `text` with the userinfo of any http(s) URL in it removed (for messages about unparsable input). */
export function redactUrl(text: string): string {
  return text.replace(/(https?:\/\/)[^/@\s]*@/gi, '$1');
}
