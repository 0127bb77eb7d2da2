/**
 * Settings from the environment, read in one place. Every variable is listed
 * in docs/deploy.md; a bad value stops the process with a message naming it.
 */
import { availableParallelism } from 'node:os';

export interface Config {
  port: number;
  host: string;
  /** Unset: the local default, started by `npm start` when nothing listens there. */
  redisUrl: string | undefined;
  /** Prefix of every Redis key and of the BullMQ queue, so several weft installs can share a Redis. */
  prefix: string;
  workers: number;
  concurrency: number;
  opModules: string[];
  /** Seconds a finished graph's status and outputs are kept. */
  resultTtl: number;
  bodyLimit: number;
  maxTasks: number;
  /** BullMQ lock of a running job; a worker that dies loses its jobs to others after about this long. */
  lockMs: number;
  stalledIntervalMs: number;
  /** Most tasks one queued job carries. */
  bundleMax: number;
  /** A burst of ready tasks is split into at least this many jobs (when it has that many tasks), so several workers share it. */
  bundleSpread: number;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    port: int(env, 'PORT', 8080, 0, 65535),
    host: env.HOST ?? '127.0.0.1',
    redisUrl: env.REDIS_URL || undefined,
    prefix: str(env, 'WEFT_PREFIX', 'weft', /^[\w.-]{1,64}$/),
    workers: int(env, 'WORKERS', availableParallelism(), 0, 1024),
    concurrency: int(env, 'WEFT_CONCURRENCY', 8, 1, 1024),
    opModules: (env.WEFT_OPS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    resultTtl: int(env, 'WEFT_RESULT_TTL', 3600, 1, 365 * 24 * 3600),
    bodyLimit: int(env, 'WEFT_BODY_LIMIT', 256 * 1024 * 1024, 1024, 4 * 1024 * 1024 * 1024),
    maxTasks: int(env, 'WEFT_MAX_TASKS', 2_000_000, 1, 100_000_000),
    lockMs: int(env, 'WEFT_LOCK_MS', 10_000, 500, 3_600_000),
    stalledIntervalMs: int(env, 'WEFT_STALLED_MS', 5_000, 200, 3_600_000),
    bundleMax: int(env, 'WEFT_BUNDLE_MAX', 64, 1, 10_000),
    bundleSpread: int(env, 'WEFT_BUNDLE_SPREAD', 8, 1, 10_000),
  };
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name}=${raw} is not valid: give an integer from ${min} to ${max}.`);
  return n;
}

function str(env: NodeJS.ProcessEnv, name: string, fallback: string, pattern: RegExp): string {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!pattern.test(raw)) throw new ConfigError(`${name}=${raw} is not valid: it must match ${pattern}.`);
  return raw;
}
