/**
 * Ready tasks go to workers as BullMQ jobs. A job carries a bundle of task
 * indexes of one graph, never specs or values: workers read those from Redis.
 * Bundles adapt: a burst of many ready tasks is split into jobs of up to
 * `bundleMax` tasks, but into at least `bundleSpread` jobs so several workers
 * share it; a single ready task is a job of its own, for low latency.
 *
 * Where and in what order jobs run (docs/architecture.md, "Scheduling policy"):
 *
 * - Pools. Each pool has its own queue (`tasks` for the default pool,
 *   `tasks-<pool>` for others); a worker takes jobs only from the queues of
 *   the pools it serves (WEFT_POOLS). A bundle holds tasks of one class
 *   (pool and priority).
 * - Priority, then fairness. Every job has a BullMQ priority (lower runs
 *   first): the task priority picks a band, and within a band the job's
 *   fairness tag. A graph's jobs are tagged 0, 1, 2, ... as they are
 *   enqueued, counting on from the graph's frontier (the highest tag of its
 *   jobs started so far). So the graph that has been served least goes
 *   first: a small graph that arrives while a huge one runs has tags near 0
 *   and is served at once, and graphs of equal progress alternate
 *   (round-robin by how far each has got). Tasks made ready by finished
 *   ones are tagged from the frontier, below the graph's jobs still queued,
 *   so consumers run before more producers fill the store (depth first, as
 *   Dask orders work). A chain has one job at a time and never gets ahead.
 */
import { Queue, type ConnectionOptions } from 'bullmq';
import { MAX_PRIORITY, MIN_PRIORITY } from '../graph/types.ts';
import { TASK_QUEUE } from './keys.ts';

export interface BundleJob {
  /** Graph id. */
  g: string;
  /** Task indexes. */
  t: number[];
  /** Set on a retry: the attempt the tasks run as (1 for a first run). */
  a?: number;
  /** The job's fairness tag (see above). */
  p?: number;
  /** Its tasks' specs and inputs, carried by a small graph's first jobs (src/queue/carried-start.ts). */
  s?: string;
}

export interface BundlePolicy {
  bundleMax: number;
  bundleSpread: number;
}

export const DEFAULT_POOL = 'default';

/** A task's class, "pool|priority", or "" for the default pool at priority 0. */
export function encodeClass(pool = DEFAULT_POOL, priority = 0): string {
  return pool === DEFAULT_POOL && priority === 0 ? '' : `${pool}|${priority}`;
}

export function decodeClass(cls: string): { pool: string; priority: number } {
  if (cls === '') return { pool: DEFAULT_POOL, priority: 0 };
  const at = cls.lastIndexOf('|');
  return { pool: cls.slice(0, at), priority: Number(cls.slice(at + 1)) };
}

/** The BullMQ queue of a pool. */
export function poolQueue(pool: string): string {
  return pool === DEFAULT_POOL ? TASK_QUEUE : `${TASK_QUEUE}-${pool}`;
}

/** Fairness tags per priority band: BullMQ priorities go up to 2^21 - 1. */
const BAND = Math.floor((2 ** 21 - 2) / (MAX_PRIORITY - MIN_PRIORITY + 1));

/** The BullMQ priority of a job: its band by task priority (higher first), then its fairness tag (lower first). */
export function jobPriority(priority: number, tag: number): number {
  return 1 + (MAX_PRIORITY - priority) * BAND + Math.min(Math.max(0, Math.floor(tag)), BAND - 1);
}

/**
 * Most jobs one burst of ready tasks makes. Past it bundles grow beyond
 * `bundleMax`: more jobs would add their cost (BullMQ's job script, a start
 * and a complete call each) and no parallelism, since no pool has that many
 * job slots free. Only bursts over 64 x 4,096 = 262,144 tasks (at the default
 * bundleMax) reach it: the million-task graph's start made 15,600 jobs of 64
 * tasks, now about 4,100 of 245.
 */
export const MAX_BURST_JOBS = 4096;

/**
 * Splits ready tasks into bundles (pure). `burst`: the ready tasks of the
 * whole burst these are part of, when it is enqueued in parts (a big graph's
 * start, chunk by chunk).
 */
export function bundle(tasks: number[], policy: BundlePolicy, burst = tasks.length): number[][] {
  if (tasks.length === 0) return [];
  const max = Math.max(policy.bundleMax, Math.ceil(burst / MAX_BURST_JOBS));
  const size = Math.max(1, Math.min(max, Math.ceil(tasks.length / policy.bundleSpread)));
  const out: number[][] = [];
  for (let i = 0; i < tasks.length; i += size) out.push(tasks.slice(i, i + size));
  return out;
}

/** Jobs made for ready tasks and not yet sent (TaskQueue.jobsFor), by the pool whose queue takes them. */
export interface PlannedJobs {
  count: number;
  byPool: { pool: string; jobs: { name: string; data: BundleJob; opts: { priority: number } }[] }[];
}

/** Where ready tasks go: their classes ("" for all when absent) and the graph's fairness tag. */
export interface Placement {
  classes?: string[];
  tag?: number;
  /** The ready tasks of the whole burst, when it is enqueued in parts (see `bundle`). */
  burst?: number;
}

export class TaskQueue {
  private readonly queues = new Map<string, Queue<BundleJob>>();

  constructor(
    private readonly connection: ConnectionOptions,
    private readonly prefix: string,
    private readonly policy: BundlePolicy,
  ) {}

  /** The queue of a pool, made on first use. */
  queue(pool = DEFAULT_POOL): Queue<BundleJob> {
    let queue = this.queues.get(pool);
    if (!queue) {
      queue = new Queue<BundleJob>(poolQueue(pool), {
        connection: this.connection,
        prefix: this.prefix,
        defaultJobOptions: {
          removeOnComplete: true,
          removeOnFail: { count: 1000 },
          attempts: 5,
          backoff: { type: 'exponential', delay: 200 },
        },
      });
      queue.on('error', () => {});
      this.queues.set(pool, queue);
    }
    return queue;
  }

  /**
   * Enqueues ready tasks of a graph, bundled by class, each job with its
   * priority (see the top of this file). Returns the number of jobs made, for
   * a caller enqueueing in several rounds to continue the tags.
   */
  async enqueue(graph: string, tasks: number[], placement: Placement = {}): Promise<number> {
    const jobs = this.jobsFor(graph, tasks, placement);
    await this.send(jobs);
    return jobs.count;
  }

  /**
   * The jobs `enqueue` makes for these ready tasks, made at once and sent by
   * `send`: a caller enqueueing in rounds (registration, chunk by chunk)
   * knows how many jobs, and so the next round's first tag, without waiting
   * for Redis.
   */
  jobsFor(graph: string, tasks: number[], placement: Placement = {}): PlannedJobs {
    const planned: PlannedJobs = { count: 0, byPool: [] };
    if (tasks.length === 0) return planned;
    const byClass = new Map<string, number[]>();
    if (!placement.classes) byClass.set('', tasks);
    else {
      tasks.forEach((t, i) => {
        const cls = placement.classes![i] ?? '';
        let list = byClass.get(cls);
        if (!list) byClass.set(cls, (list = []));
        list.push(t);
      });
    }
    let tag = placement.tag ?? 0;
    for (const [cls, list] of byClass) {
      const { pool, priority } = decodeClass(cls);
      const jobs = bundle(list, this.policy, placement.burst).map((t) => {
        const p = tag++;
        return { name: 'b', data: { g: graph, t, p }, opts: { priority: jobPriority(priority, p) } };
      });
      planned.byPool.push({ pool, jobs });
      planned.count += jobs.length;
    }
    return planned;
  }

  /** Adds jobs made by `jobsFor` to their queues. */
  async send(planned: PlannedJobs): Promise<void> {
    for (const { pool, jobs } of planned.byPool) {
      // One job (a small graph, a task made ready) is added by itself: addBulk sends a pipeline, which
      // ioredis makes by copying every script of the connection, BullMQ's and weft's (tens of µs).
      if (jobs.length === 1) await this.queue(pool).add(jobs[0].name, jobs[0].data, jobs[0].opts);
      // addBulk is one pipeline; keep each call to a bounded size so a huge graph's start does not block Redis.
      else for (let i = 0; i < jobs.length; i += 1000) await this.queue(pool).addBulk(jobs.slice(i, i + 1000));
    }
  }

  /** Runs a task again after `delayMs`, as attempt `attempt` (an op error with retries left). */
  async retry(graph: string, task: number, attempt: number, delayMs: number, cls = ''): Promise<void> {
    const { pool, priority } = decodeClass(cls);
    // Tag 0: a retry goes ahead of the rest of its band when its delay is over.
    await this.queue(pool).add(
      'b',
      { g: graph, t: [task], a: attempt, p: 0 },
      { delay: delayMs, priority: jobPriority(priority, 0) },
    );
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
