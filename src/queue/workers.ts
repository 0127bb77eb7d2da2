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
 * submission, so it must not cost a round trip each time. A name missing from
 * the cache is looked up again (a worker with new ops may just have started).
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
    await this.refresh();
    return [...this.names].map(([name, description]) => ({ name, description })).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** A checker for planGraph: call after `prepare`. */
  async prepare(ops: Iterable<string>): Promise<(op: string) => boolean> {
    const stale = Date.now() - this.fetchedAt > 1000;
    let missing = false;
    for (const op of ops) if (!this.names.has(op)) missing = true;
    if (stale || (missing && Date.now() - this.fetchedAt > 100)) await this.refresh();
    return (op) => this.names.has(op);
  }

  private async refresh(): Promise<void> {
    const registered = await this.redis.hgetall(opsKey(this.prefix));
    const names = new Map(this.builtins.map((o) => [o.name, o.description]));
    for (const [name, description] of Object.entries(registered)) names.set(name, description);
    this.names = names;
    this.fetchedAt = Date.now();
  }
}
