/**
 * Registry credentials (flags > environment > docker-style config.json) and the
 * `WWW-Authenticate` challenge parser used by the bearer-token flow.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { errnoCode, InvalidDataError, UsageError } from '../errors.ts';
import { DockerConfigSchema } from '../schemas/registry.ts';

/** A user name and password (or a registry token as password). */
export interface Credentials {
  username: string;
  password: string;
}

/** One challenge of a `WWW-Authenticate` header: `Bearer realm="…",service="…"`. */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses a `WWW-Authenticate` header into its challenges (quoted values may hold commas). */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  // A bare token starts a challenge (`Bearer`); `key=value` pairs belong to the last one.
  const re = /([\w!#$%&'*+.^`|~-]+)(?:\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*))?/g;
  let current: Challenge | null = null;
  for (const m of header.matchAll(re)) {
    const [, key = '', raw] = m;
    if (raw === undefined) {
      current = { scheme: key.toLowerCase(), params: {} };
      out.push(current);
    } else if (current) {
      current.params[key.toLowerCase()] = raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
    }
  }
  return out;
}

/** Where credentials may come from, strongest first. */
export interface CredentialSources {
  username?: string;
  password?: string;
  env: NodeJS.ProcessEnv;
}

/**
 * Credentials for `registry`: `--username/--password`, then `COCOON_REGISTRY_USERNAME/
 * COCOON_REGISTRY_PASSWORD`, then `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`.
 */
export function findCredentials(registry: string, src: CredentialSources): Credentials | null {
  if (src.username !== undefined || src.password !== undefined) {
    if (!src.username || src.password === undefined) throw new UsageError('--username and --password go together');
    return { username: src.username, password: src.password };
  }
  const user = src.env.COCOON_REGISTRY_USERNAME;
  const pass = src.env.COCOON_REGISTRY_PASSWORD;
  if (user && pass !== undefined) return { username: user, password: pass };
  return fromDockerConfig(registry, src.env);
}

function dockerConfigPath(env: NodeJS.ProcessEnv): string {
  if (env.DOCKER_CONFIG) return join(env.DOCKER_CONFIG, 'config.json');
  return join(env.HOME ?? homedir(), '.docker', 'config.json');
}

function fromDockerConfig(registry: string, env: NodeJS.ProcessEnv): Credentials | null {
  const file = dockerConfigPath(env);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return null;
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InvalidDataError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  const parsed = DockerConfigSchema.safeParse(json);
  if (!parsed.success) throw new InvalidDataError(`${file}: not a docker config file (${parsed.error.issues[0]?.message ?? 'bad shape'})`);
  for (const [key, entry] of Object.entries(parsed.data.auths ?? {})) {
    if (authKeyHost(key) !== registry) continue;
    if (entry.auth) return decodeAuth(entry.auth, file, key);
    if (entry.username && entry.password !== undefined) return { username: entry.username, password: entry.password };
  }
  return null;
}

/** `https://index.docker.io/v1/` → `docker.io`; `http://host:5000/` → `host:5000`. */
function authKeyHost(key: string): string {
  const host = key.replace(/^[a-z]+:\/\//, '').split('/')[0] ?? '';
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? 'docker.io' : host;
}

function decodeAuth(auth: string, file: string, key: string): Credentials {
  const plain = Buffer.from(auth, 'base64').toString('utf8');
  const i = plain.indexOf(':');
  if (i <= 0) throw new InvalidDataError(`${file}: auths["${key}"].auth is not base64 of user:password`);
  return { username: plain.slice(0, i), password: plain.slice(i + 1) };
}

/** The `Authorization` value for Basic auth. */
export function basicHeader(creds: Credentials): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
}
