/** What the API reads about workers and their ops, from the keys workers write as they start and heartbeat. */
import type { Redis } from 'ioredis';
import { opsKey, workersKey } from './keys.ts';

/** A worker counts as live while its last heartbeat is younger than this. */
export const WORKER_TIMEOUT_MS = 10_000;

export async function liveWorkerCount(redis: Redis, prefix: string): Promise<number> {
  return redis.zcount(workersKey(prefix), Date.now() - WORKER_TIMEOUT_MS, '+inf');
}

/**
 * Ops registered by workers, cached for a second: checked on every graph
 * submission, so it must not cost a round trip each time. The API looks again
 * before rejecting an op it does not know (a worker with new ops may just
 * have started).
 */
export class OpCatalog {
  private names = new Map<string, string>();
  private fetchedAt = 0;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly builtins: { name: string; description: string }[],
  ) {}

  async list(): Promise<{ name: string; description: string }[]> {
    await this.refreshIfOlderThan(0);
    return [...this.names].map(([name, description]) => ({ name, description })).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Whether a worker has registered `op`, as of the last refresh. */
  readonly isKnown = (op: string): boolean => this.names.has(op);

  /** Refreshes the cache when it is older than `ms`; returns whether it did. */
  async refreshIfOlderThan(ms: number): Promise<boolean> {
    if (Date.now() - this.fetchedAt <= ms) return false;
    await this.refresh();
    return true;
  }

  async refresh(): Promise<void> {
    const registered = await this.redis.hgetall(opsKey(this.prefix));
    const names = new Map(this.builtins.map((o) => [o.name, o.description]));
    for (const [name, description] of Object.entries(registered)) names.set(name, description);
    this.names = names;
    this.fetchedAt = Date.now();
  }
}
