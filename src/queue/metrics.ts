/**
 * Cluster-wide figures for GET /metrics, kept in Redis because tasks run in
 * other processes than the API that is scraped:
 *
 * - counters in P:stats that the scheduling scripts add to in calls they make
 *   anyway (tasks started, finished and failed; graphs by end state) and that
 *   the API and workers add to (graphs submitted, webhook deliveries, spills);
 * - the task duration histogram, which each worker gathers in memory and adds
 *   to P:metrics:task_seconds once per heartbeat, never per task;
 * - gauges read at scrape time: active graphs by state, BullMQ job counts,
 *   Redis memory, live workers.
 */
import type { ChainableCommander, Redis } from 'ioredis';
import { durationsKey } from './keys.ts';

/** Upper bounds (seconds) of the task duration histogram's buckets; tasks run from microseconds to minutes. */
export const TASK_SECONDS_BUCKETS = [
  0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
];

export interface HistogramCounts {
  /** Count per bucket (not cumulative), the last for values above every bound. */
  counts: number[];
  sum: number;
  count: number;
}

const field = (i: number) => (i < TASK_SECONDS_BUCKETS.length ? `le:${TASK_SECONDS_BUCKETS[i]}` : 'le:+Inf');

/** A worker's task durations since its last heartbeat. */
export class DurationHistogram {
  private pending: HistogramCounts = empty();

  observe(seconds: number): void {
    let i = 0;
    while (i < TASK_SECONDS_BUCKETS.length && seconds > TASK_SECONDS_BUCKETS[i]) i++;
    this.pending.counts[i]++;
    this.pending.sum += seconds;
    this.pending.count++;
  }

  /**
   * Queues the observations since the last call on `multi` and forgets them;
   * `restore` puts them back when the write failed, so the next beat retries.
   */
  drainInto(multi: ChainableCommander, prefix: string): { restore(): void } {
    const taken = this.pending;
    this.pending = empty();
    if (taken.count > 0) {
      const key = durationsKey(prefix);
      taken.counts.forEach((n, i) => {
        if (n > 0) multi.hincrby(key, field(i), n);
      });
      multi.hincrbyfloat(key, 'sum', taken.sum).hincrby(key, 'count', taken.count);
    }
    return {
      restore: () => {
        taken.counts.forEach((n, i) => (this.pending.counts[i] += n));
        this.pending.sum += taken.sum;
        this.pending.count += taken.count;
      },
    };
  }
}

function empty(): HistogramCounts {
  return { counts: new Array<number>(TASK_SECONDS_BUCKETS.length + 1).fill(0), sum: 0, count: 0 };
}

/** The cluster-wide task duration histogram. */
export async function readDurations(redis: Redis, prefix: string): Promise<HistogramCounts> {
  const h = await redis.hgetall(durationsKey(prefix));
  return {
    counts: TASK_SECONDS_BUCKETS.map((_, i) => Number(h[field(i)] ?? 0)).concat(
      Number(h[field(TASK_SECONDS_BUCKETS.length)] ?? 0),
    ),
    sum: Number(h.sum ?? 0),
    count: Number(h.count ?? 0),
  };
}
