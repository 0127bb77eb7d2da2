/**
 * Ready tasks go to workers as BullMQ jobs. A job carries a bundle of task
 * indexes of one graph, never specs or values: workers read those from Redis.
 * Bundles adapt: a burst of many ready tasks is split into jobs of up to
 * `bundleMax` tasks, but into at least `bundleSpread` jobs so several workers
 * share it; a single ready task is a job of its own, for low latency.
 */
import { Queue, type ConnectionOptions } from 'bullmq';
import { TASK_QUEUE } from './keys.ts';

export interface BundleJob {
  /** Graph id. */
  g: string;
  /** Task indexes. */
  t: number[];
  /** Set on a retry: the attempt the tasks run as (1 for a first run). */
  a?: number;
}

export interface BundlePolicy {
  bundleMax: number;
  bundleSpread: number;
}

/** Splits ready tasks into bundles (pure). */
export function bundle(tasks: number[], policy: BundlePolicy): number[][] {
  if (tasks.length === 0) return [];
  const size = Math.max(1, Math.min(policy.bundleMax, Math.ceil(tasks.length / policy.bundleSpread)));
  const out: number[][] = [];
  for (let i = 0; i < tasks.length; i += size) out.push(tasks.slice(i, i + size));
  return out;
}

export class TaskQueue {
  readonly queue: Queue<BundleJob>;

  constructor(
    connection: ConnectionOptions,
    prefix: string,
    private readonly policy: BundlePolicy,
  ) {
    this.queue = new Queue<BundleJob>(TASK_QUEUE, {
      connection,
      prefix,
      defaultJobOptions: { removeOnComplete: true, removeOnFail: { count: 1000 }, attempts: 5, backoff: { type: 'exponential', delay: 200 } },
    });
    this.queue.on('error', () => {});
  }

  /**
   * Enqueues ready tasks. `next: true` puts them at the front of the queue:
   * for tasks made ready by finished ones, so consumers run (and free their
   * inputs) before more producers fill the store, the depth-first order
   * Dask's scheduler also prefers.
   */
  async enqueue(graph: string, tasks: number[], next = false): Promise<void> {
    const bundles = bundle(tasks, this.policy);
    const opts = next ? { lifo: true } : undefined;
    // addBulk is one MULTI; keep each call to a bounded size so a huge graph's start does not block Redis.
    for (let i = 0; i < bundles.length; i += 1000) {
      await this.queue.addBulk(bundles.slice(i, i + 1000).map((t) => ({ name: 'b', data: { g: graph, t }, opts })));
    }
  }

  /** Runs a task again after `delayMs`, as attempt `attempt` (an op error with retries left). */
  async retry(graph: string, task: number, attempt: number, delayMs: number): Promise<void> {
    await this.queue.add('b', { g: graph, t: [task], a: attempt }, { delay: delayMs });
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
