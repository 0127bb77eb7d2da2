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
  private meta = new Map<string, { version: string; deterministic: boolean }>();
  private fetchedAt = 0;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly builtins: { name: string; description: string; version?: string; deterministic?: boolean }[],
  ) {}

  async list(): Promise<{ name: string; description: string }[]> {
    await this.refreshIfOlderThan(0);
    return [...this.names].map(([name, description]) => ({ name, description })).sort((a, b) => a.name.localeCompare(b.name));
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
    const [registered, meta] = await Promise.all([this.redis.hgetall(opsKey(this.prefix)), this.redis.hgetall(`${opsKey(this.prefix)}:meta`)]);
    const names = new Map(this.builtins.map((o) => [o.name, o.description]));
    const versions = new Map(this.builtins.map((o) => [o.name, { version: o.version ?? '1', deterministic: o.deterministic !== false }]));
    for (const [name, description] of Object.entries(registered)) names.set(name, description);
    for (const [name, m] of Object.entries(meta)) {
      const [version, deterministic] = m.split('|');
      versions.set(name, { version, deterministic: deterministic === '1' });
    }
    this.names = names;
    this.meta = versions;
    this.fetchedAt = Date.now();
  }
}
