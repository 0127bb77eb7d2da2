/**
 * Settings from the environment, read in one place. Every variable is listed
 * in docs/deploy.md; a bad value stops the process with a message naming it.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { parseRedisUrl, RedisUrlError } from './queue/redis-url.ts';

export interface Config {
  port: number;
  host: string;
  /** Unset: the local default, started by `npm start` when nothing listens there. One Redis, Sentinel or Cluster (src/queue/redis-url.ts). */
  redisUrl: string | undefined;
  /** Prefix of every Redis key and of the BullMQ queue, so several weft installs can share a Redis; a hash tag such as {weft} on Redis Cluster. */
  prefix: string;
  workers: number;
  concurrency: number;
  opModules: string[];
  /** Seconds a finished graph's status and outputs are kept. */
  resultTtl: number;
  bodyLimit: number;
  maxTasks: number;
  /** Longest graph key, bytes of UTF-8. */
  maxKeyBytes: number;
  /** Largest value stored as one object (a put, a graph's data, a task's result), bytes encoded. */
  maxValueBytes: number;
  /** Webhook and presubmit targets may be private or loopback addresses (development and tests only). */
  allowPrivateTargets: boolean;
  /** BullMQ lock of a running job; a worker that dies loses its jobs to others after about this long. */
  lockMs: number;
  stalledIntervalMs: number;
  /** Most tasks one queued job carries. */
  bundleMax: number;
  /** A burst of ready tasks is split into at least this many jobs (when it has that many tasks), so several workers share it. */
  bundleSpread: number;
  /** Tasks of the graph a worker runs by itself at start, so its job loop is compiled before real work (src/workers/rehearsal.ts); 0: none. */
  rehearsalTasks: number;
  /** Memory budget of the object store in Redis, bytes (measured as Redis used_memory). */
  storeMemoryLimit: number;
  /** Above this fraction of the budget, least recently used objects spill to disk. */
  spillThreshold: number;
  /** Where spilled objects go; on several machines a path every worker and API process shares. */
  spillDir: string;
  /** Smaller values are never spilled (nor tracked for it). */
  spillMinBytes: number;
  /** Most bytes of spill files (0: as much as the disk holds); past it spilling fails with out_of_disk. */
  spillDirLimit: number;
  /** Seconds a result stays in the result cache (options.cache). */
  cacheTtl: number;
  /** API tokens: SHA-256 of each token (hex) -> its tenant. Empty: no auth, and the API listens on loopback only. */
  tokens: Map<string, string>;
  /** Listen beyond loopback without tokens (a network you trust). */
  allowOpen: boolean;
  /** Log a line for every request (an access log); off, a request's path writes nothing. */
  logRequests: boolean;
  /** Origins whose pages may call the API (CORS, WEFT_CORS_ORIGINS), or '*' for any; unset: no CORS headers. */
  corsOrigins?: string[] | '*';
  /** Graphs one tenant may have queued or running at once. */
  maxGraphsInFlight: number;
  /** The worker pools a worker process serves (WEFT_POOLS). */
  pools: string[];
  /** Executor commands by pool (WEFT_EXECUTOR_<POOL>), as given; the pool "python" has a default (docs/executors.md). */
  executorCommands: Map<string, string>;
  /** Executor processes per pool per worker (WEFT_EXECUTORS). */
  executorsPerPool: number;
  /** Environment variables passed on to executors besides the clean base set (WEFT_EXECUTOR_ENV). */
  executorEnv: string[];
  /** With API tokens, the tenants that may submit foreign calls (WEFT_CODE_TENANTS; "*" for all). */
  codeTenants: Set<string>;
  /** On SIGTERM, how long a process finishes what it is doing before it hands the rest back (workers) or drops it (API). */
  shutdownMs: number;
  /** A worker without a heartbeat for this long is dead: GET /v1/workers drops it. Workers beat five times per timeout. */
  workerTimeoutMs: number;
}

/** The tenant of operator tokens: they see every tenant's graphs and the service-wide routes. */
export const OPERATOR_TENANT = '*';

/** How a presented token is looked up: its SHA-256, so the table holds no token and lookups take the same time. */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** The default store budget: a quarter of the machine's memory (Redis, workers and the API share the rest). */
export const DEFAULT_STORE_FRACTION = 0.25;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const redisUrl = env.REDIS_URL || undefined;
  const prefix = str(env, 'WEFT_PREFIX', 'weft', /^([\w.-]{1,64}|\{[\w.-]{1,62}\})$/);
  if (redisUrl) {
    let kind: string;
    try {
      kind = parseRedisUrl(redisUrl).kind;
    } catch (err) {
      if (err instanceof RedisUrlError) throw new ConfigError(`REDIS_URL=${redisUrl} is not valid: ${err.message}`);
      throw err;
    }
    // Every weft key must be in one slot: the scripts touch a graph's keys and shared ones (stats, spill
    // bookkeeping) together, and BullMQ's queue keys must share a slot too.
    if (kind === 'cluster' && !prefix.startsWith('{'))
      throw new ConfigError(
        `WEFT_PREFIX=${prefix} cannot be used on Redis Cluster: give a hash tag such as {${prefix}}, so that every weft key is in one slot.`,
      );
  }
  return {
    port: int(env, 'PORT', 8080, 0, 65535),
    host: env.HOST ?? '127.0.0.1',
    redisUrl,
    prefix,
    workers: int(env, 'WORKERS', availableParallelism(), 0, 1024),
    concurrency: int(env, 'WEFT_CONCURRENCY', 8, 1, 1024),
    opModules: (env.WEFT_OPS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    resultTtl: int(env, 'WEFT_RESULT_TTL', 3600, 1, 365 * 24 * 3600),
    bodyLimit: int(env, 'WEFT_BODY_LIMIT', 256 * 1024 * 1024, 1024, 4 * 1024 * 1024 * 1024),
    maxTasks: int(env, 'WEFT_MAX_TASKS', 2_000_000, 1, 100_000_000),
    maxKeyBytes: int(env, 'WEFT_MAX_KEY_BYTES', 1024, 1, 1 << 20),
    // Redis refuses a bulk string over 512 MiB (proto-max-bulk-len), so a bigger value could never be stored.
    maxValueBytes: bytesWithin(env, 'WEFT_MAX_VALUE_BYTES', 512 * 2 ** 20, 1, 512 * 2 ** 20),
    allowPrivateTargets: flag(env, 'WEFT_ALLOW_PRIVATE_WEBHOOKS'),
    lockMs: int(env, 'WEFT_LOCK_MS', 10_000, 500, 3_600_000),
    stalledIntervalMs: int(env, 'WEFT_STALLED_MS', 5_000, 200, 3_600_000),
    bundleMax: int(env, 'WEFT_BUNDLE_MAX', 64, 1, 10_000),
    bundleSpread: int(env, 'WEFT_BUNDLE_SPREAD', 8, 1, 10_000),
    rehearsalTasks: int(env, 'WEFT_WORKER_REHEARSAL', 5_000, 0, 1_000_000),
    storeMemoryLimit: bytes(env, 'STORE_MEMORY_LIMIT', Math.floor(totalmem() * DEFAULT_STORE_FRACTION)),
    spillThreshold: fraction(env, 'STORE_SPILL_THRESHOLD', 0.8),
    spillDir: env.SPILL_DIR || '.weft/spill',
    spillMinBytes: int(env, 'SPILL_MIN_BYTES', 1024, 2, 1 << 30),
    spillDirLimit: bytes(env, 'SPILL_DIR_LIMIT', 0),
    cacheTtl: int(env, 'WEFT_CACHE_TTL', 24 * 3600, 1, 365 * 24 * 3600),
    tokens: loadTokens(env),
    allowOpen: env.WEFT_ALLOW_OPEN === '1',
    logRequests: env.WEFT_LOG_REQUESTS === '1',
    corsOrigins: corsOrigins(env),
    maxGraphsInFlight: int(env, 'WEFT_MAX_GRAPHS_IN_FLIGHT', 1000, 1, 10_000_000),
    shutdownMs: int(env, 'WEFT_SHUTDOWN_MS', 10_000, 0, 3_600_000),
    workerTimeoutMs: int(env, 'WEFT_WORKER_TIMEOUT_MS', 10_000, 500, 3_600_000),
    pools: pools(env),
    executorCommands: executorCommands(env),
    executorsPerPool: int(
      env,
      'WEFT_EXECUTORS',
      Math.min(int(env, 'WEFT_CONCURRENCY', 8, 1, 1024), availableParallelism()),
      1,
      1024,
    ),
    executorEnv: list(env.WEFT_EXECUTOR_ENV),
    codeTenants: new Set(list(env.WEFT_CODE_TENANTS)),
  };
}

/**
 * API tokens from WEFT_TOKENS ("tenant=token,tenant=token") and the file
 * named by WEFT_TOKENS_FILE (a "tenant token" pair per line, # comments).
 * Tenant "*" is an operator. A token must be at least 16 characters.
 */
/** WEFT_CORS_ORIGINS: `*`, or origins (`scheme://host[:port]`, as a browser sends them) separated by commas. */
function corsOrigins(env: NodeJS.ProcessEnv): string[] | '*' | undefined {
  const value = env.WEFT_CORS_ORIGINS?.trim();
  if (!value) return undefined;
  if (value === '*') return '*';
  return value.split(',').map((part) => {
    const origin = part.trim();
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {}
    if (!parsed || !/^https?:$/.test(parsed.protocol) || parsed.origin !== origin)
      throw new ConfigError(
        `WEFT_CORS_ORIGINS=${value}: ${JSON.stringify(origin)} is not an origin; give "*" alone, or origins ` +
          'such as https://app.example or http://localhost:5173 (scheme, host and port; no path, no trailing "/"), comma-separated.',
      );
    return origin;
  });
}

function loadTokens(env: NodeJS.ProcessEnv): Map<string, string> {
  const pairs: [string, string, string][] = [];
  for (const item of (env.WEFT_TOKENS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const at = item.indexOf('=');
    pairs.push([item.slice(0, at), at < 0 ? '' : item.slice(at + 1), 'WEFT_TOKENS']);
  }
  if (env.WEFT_TOKENS_FILE) {
    let text: string;
    try {
      text = readFileSync(env.WEFT_TOKENS_FILE, 'utf8');
    } catch (err) {
      throw new ConfigError(`WEFT_TOKENS_FILE=${env.WEFT_TOKENS_FILE} cannot be read: ${(err as Error).message}`);
    }
    text.split('\n').forEach((line, i) => {
      const clean = line.replace(/#.*/, '').trim();
      if (!clean) return;
      const [tenant, token, ...rest] = clean.split(/\s+/);
      pairs.push([tenant, rest.length === 0 ? (token ?? '') : '', `WEFT_TOKENS_FILE line ${i + 1}`]);
    });
  }
  const table = new Map<string, string>();
  for (const [tenant, token, where] of pairs) {
    if (!/^([\w.-]{1,64}|\*)$/.test(tenant))
      throw new ConfigError(
        `${where}: tenant ${JSON.stringify(tenant)} must be 1 to 64 letters, digits, "_", "." or "-" (or "*" for an operator).`,
      );
    if (token.length < 16)
      throw new ConfigError(
        `${where}: the token of tenant ${tenant} must be at least 16 characters (give "tenant=token", or "tenant token" in the file).`,
      );
    table.set(tokenDigest(token), tenant);
  }
  return table;
}

/** WEFT_POOLS: comma-separated pool names (default: the default pool). */
function pools(env: NodeJS.ProcessEnv): string[] {
  const list = [
    ...new Set(
      (env.WEFT_POOLS ?? 'default')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  ];
  for (const p of list)
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(p))
      throw new ConfigError(
        `WEFT_POOLS: ${JSON.stringify(p)} is not a pool name (1 to 64 letters, digits, "_", "." or "-").`,
      );
  if (list.length === 0)
    throw new ConfigError('WEFT_POOLS lists no pool: give at least one, such as "default" or "default,gpu".');
  return list;
}

/** The environment variable naming the executor command of `pool`: WEFT_EXECUTOR_PYTHON for "python". */
export function executorVariable(pool: string): string {
  return `WEFT_EXECUTOR_${pool.toUpperCase().replace(/[.-]/g, '_')}`;
}

function executorCommands(env: NodeJS.ProcessEnv): Map<string, string> {
  const commands = new Map<string, string>();
  for (const pool of pools(env)) {
    const command = env[executorVariable(pool)]?.trim();
    if (command) commands.set(pool, command);
  }
  return commands;
}

function list(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new ConfigError(`${name}=${raw} is not valid: give an integer from ${min} to ${max}.`);
  return n;
}

/** A size such as 536870912, 512MB, 512MiB or 1.5GB (MB = 10^6, MiB = 2^20). */
export function parseBytes(raw: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$/i.exec(raw);
  if (!m) return null;
  const unit = (m[2] ?? '').toLowerCase().replace(/b$/, '');
  const scale: Record<string, number> = {
    '': 1,
    k: 1e3,
    m: 1e6,
    g: 1e9,
    t: 1e12,
    ki: 2 ** 10,
    mi: 2 ** 20,
    gi: 2 ** 30,
    ti: 2 ** 40,
  };
  return unit in scale ? Math.floor(Number(m[1]) * scale[unit]) : null;
}

function bytes(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = parseBytes(raw);
  if (n === null) throw new ConfigError(`${name}=${raw} is not valid: give a size such as 536870912, 512MB or 1GiB.`);
  return n;
}

function bytesWithin(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const n = bytes(env, name, fallback);
  if (n < min || n > max)
    throw new ConfigError(`${name}=${env[name]} is not valid: give a size from ${min} to ${max} bytes (such as 64MB).`);
  return n;
}

function flag(env: NodeJS.ProcessEnv, name: string): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '' || raw === '0' || raw === 'false') return false;
  if (raw === '1' || raw === 'true') return true;
  throw new ConfigError(`${name}=${raw} is not valid: give 1 (or true) to turn it on, 0 (or false) to leave it off.`);
}

function fraction(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!(n > 0 && n <= 1))
    throw new ConfigError(`${name}=${raw} is not valid: give a fraction above 0 and at most 1, such as 0.8.`);
  return n;
}

function str(env: NodeJS.ProcessEnv, name: string, fallback: string, pattern: RegExp): string {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!pattern.test(raw)) throw new ConfigError(`${name}=${raw} is not valid: it must match ${pattern}.`);
  return raw;
}
