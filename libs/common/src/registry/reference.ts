/**
 * Image references as Docker spells them: `ubuntu` → `docker.io/library/ubuntu:latest`,
 * `localhost:5000/x:1`, `ghcr.io/a/b@sha256:…`.
 */
import { UsageError } from '../errors.ts';

/** A parsed image reference. `digest` wins over `tag` when both are given. */
export interface ImageReference {
  /** Registry host[:port] as written (`docker.io` for Docker Hub). */
  registry: string;
  /** Repository path inside the registry (`library/ubuntu`). */
  repository: string;
  tag: string | null;
  digest: string | null;
}

const DOCKER_HUB = 'docker.io';
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** Parses `input`; throws a UsageError naming what is wrong. */
export function parseReference(input: string): ImageReference {
  const bad = (why: string) => new UsageError(`image reference "${input}": ${why}`);
  if (input.length === 0 || input.length > 1024 || /\s/.test(input)) throw bad('empty or contains spaces');
  let rest = input;
  let digest: string | null = null;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad('a digest is sha256:<64 lowercase hex>');
  }
  let tag: string | null = null;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`invalid tag "${tag}"`);
  }
  const parts = rest.split('/');
  let registry = DOCKER_HUB;
  const first = parts[0] ?? '';
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    registry = first === 'index.docker.io' ? DOCKER_HUB : first;
    parts.shift();
  }
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  for (const part of parts) if (!COMPONENT.test(part)) throw bad(`invalid repository component "${part}" (lowercase letters, digits, . _ -)`);
  if (tag === null && digest === null) tag = 'latest';
  return { registry, repository: parts.join('/'), tag, digest };
}

/** The canonical form: `registry/repository[:tag][@digest]`. */
export function formatReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** What to ask the registry for: the digest when pinned, else the tag. */
export function manifestSelector(ref: ImageReference): string {
  return ref.digest ?? ref.tag ?? 'latest';
}

/** The host that serves the API of `registry` (Docker Hub's API lives elsewhere). */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? 'registry-1.docker.io' : registry;
}

/** Whether plain HTTP is allowed without `--insecure`: only the loopback host. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.replace(/:\d+$/, '');
  return host === 'localhost' || host === '127.0.0.1' || host === '[::1]';
}
