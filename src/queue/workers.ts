/**
 * The worker registry and op catalogue: what workers write as they start and
 * heartbeat, and what the API reads of it.
 *
 *   P:workers        sorted set: worker id -> last heartbeat (ms)
 *   P:workers:<id>   hash: the fields of WorkerInfo, expiring after the
 *                    worker timeout unless the next heartbeat renews it
 */
import type { ChainableCommander, Redis } from 'ioredis';
import type { components } from '../shared/openapi-types.ts';
import { opsKey, opsMetaKey, workerKey, workersKey } from './keys.ts';

/** A worker beats this many times per timeout, so one late beat does not make it look dead. */
export const BEATS_PER_TIMEOUT = 5;

/** A worker as GET /v1/workers lists it, and as it writes itself to the registry. */
export type WorkerInfo = components['schemas']['WorkerInfo'];

export type ExecutorInfo = components['schemas']['ExecutorInfo'];

/** Queues one heartbeat on `multi`: the sorted set's score and the details hash, whose TTL is renewed. */
export function addHeartbeat(multi: ChainableCommander, prefix: string, info: WorkerInfo, timeoutMs: number): void {
  const { id, pools, executors, ...fields } = info;
  multi
    .zadd(workersKey(prefix), info.heartbeat, id)
    .hset(workerKey(prefix, id), { ...fields, pools: pools.join(','), executors: JSON.stringify(executors ?? []) })
    .pexpire(workerKey(prefix, id), timeoutMs);
}

/** Takes a closing worker out of the registry at once, rather than after the timeout. */
export async function removeWorker(redis: Redis, prefix: string, id: string): Promise<void> {
  await redis.multi().zrem(workersKey(prefix), id).del(workerKey(prefix, id)).exec();
}

export async function liveWorkerCount(redis: Redis, prefix: string, timeoutMs: number): Promise<number> {
  return redis.zcount(workersKey(prefix), Date.now() - timeoutMs, '+inf');
}

/** Live workers (a heartbeat within `timeoutMs`), oldest first; dead ones are dropped from the set on the way. */
export async function listWorkers(redis: Redis, prefix: string, timeoutMs: number): Promise<WorkerInfo[]> {
  const key = workersKey(prefix);
  const cutoff = Date.now() - timeoutMs;
  const [, ids] = await Promise.all([
    redis.zremrangebyscore(key, '-inf', `(${cutoff}`),
    redis.zrangebyscore(key, cutoff, '+inf'),
  ]);
  if (ids.length === 0) return [];
  const pipe = redis.pipeline();
  for (const id of ids) pipe.hgetall(workerKey(prefix, id));
  const rows = (await pipe.exec()) ?? [];
  const workers: WorkerInfo[] = [];
  ids.forEach((id, i) => {
    const [err, h] = rows[i] as [Error | null, Record<string, string>];
    if (err) throw err;
    if (!h.heartbeat) return;
    const n = (k: string) => Number(h[k] ?? 0);
    workers.push({
      id,
      host: h.host ?? '',
      pid: n('pid'),
      concurrency: n('concurrency'),
      running: n('running'),
      jobs: n('jobs'),
      tasks_done: n('tasks_done'),
      tasks_failed: n('tasks_failed'),
      tasks_run_ahead: n('tasks_run_ahead'),
      started: n('started'),
      heartbeat: n('heartbeat'),
      pools: (h.pools || 'default').split(','),
      executors: h.executors ? (JSON.parse(h.executors) as ExecutorInfo[]) : [],
    });
  });
  return workers.sort((a, b) => a.started - b.started || a.id.localeCompare(b.id));
}

/**
 * The pools live workers serve, cached for a second: a running graph's status
 * names the pools it needs that no worker serves (waiting_for_pools), and
 * clients poll that status, so it must not list the workers each time.
 */
export class ServedPools {
  private served = new Set<string>();
  private fetchedAt = 0;
  private fetching: Promise<Set<string>> | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly workerTimeoutMs: number,
    private readonly maxAgeMs = 1_000,
  ) {}

  async get(): Promise<Set<string>> {
    if (Date.now() - this.fetchedAt <= this.maxAgeMs) return this.served;
    // Concurrent polls share one listing.
    this.fetching ??= listWorkers(this.redis, this.prefix, this.workerTimeoutMs)
      .then((workers) => {
        this.served = new Set(workers.flatMap((w) => w.pools));
        this.fetchedAt = Date.now();
        return this.served;
      })
      .finally(() => (this.fetching = undefined));
    return this.fetching;
  }
}

/**
 * Ops registered by workers, cached for a second: checked on every graph
 * submission, so it must not cost a round trip each time. The API looks again
 * before rejecting an op it does not know (a worker with new ops may just
 * have started).
 */
export class OpCatalog {
  private names = new Map<string, string>();
  private meta = new Map<string, { version: string; deterministic: boolean }>();
  private fetchedAt = 0;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly builtins: { name: string; description: string; version?: string; deterministic?: boolean }[],
  ) {
    // Every worker runs the built-in ops: they are known before the first refresh (the API's rehearsal plans with them).
    this.install({}, {});
  }

  async list(): Promise<{ name: string; description: string }[]> {
    await this.refreshIfOlderThan(0);
    return [...this.names]
      .map(([name, description]) => ({ name, description }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Whether a worker has registered `op`, as of the last refresh. */
  readonly isKnown = (op: string): boolean => this.names.has(op);

  /** The op's version (for fingerprints). */
  readonly versionOf = (op: string): string => this.meta.get(op)?.version ?? '1';

  /** Whether the op's results may be cached. Unknown ops are not. */
  readonly isDeterministic = (op: string): boolean => this.meta.get(op)?.deterministic ?? false;

  /** Refreshes the cache when it is older than `ms`; returns whether it did. */
  async refreshIfOlderThan(ms: number): Promise<boolean> {
    if (Date.now() - this.fetchedAt <= ms) return false;
    await this.refresh();
    return true;
  }

  async refresh(): Promise<void> {
    const [registered, meta] = await Promise.all([
      this.redis.hgetall(opsKey(this.prefix)),
      this.redis.hgetall(opsMetaKey(this.prefix)),
    ]);
    this.install(registered, meta);
    this.fetchedAt = Date.now();
  }

  /** The built-in ops and those workers registered (`name -> description`, `name -> version|deterministic`). */
  private install(registered: Record<string, string>, meta: Record<string, string>): void {
    const names = new Map(this.builtins.map((o) => [o.name, o.description]));
    const versions = new Map(
      this.builtins.map((o) => [o.name, { version: o.version ?? '1', deterministic: o.deterministic !== false }]),
    );
    for (const [name, description] of Object.entries(registered)) names.set(name, description);
    for (const [name, m] of Object.entries(meta)) {
      const [version, deterministic] = m.split('|');
      versions.set(name, { version, deterministic: deterministic === '1' });
    }
    this.names = names;
    this.meta = versions;
  }
}
