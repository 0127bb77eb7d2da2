/**
 * A worker's rehearsal: before a new worker process takes real jobs, it runs
 * a graph of its own through the whole job loop, so the code of that loop
 * (BullMQ's worker, ioredis, the start and complete scripts' wrappers, the
 * evaluator) is compiled by the JIT before the first client's graph comes.
 *
 * Measured (2 workers, the 20,203-task wide graph, three trials): with the
 * API warm, a graph run by workers just started took 1,148 to 1,344 ms
 * against 901 to 968 ms for the next one; after a first graph of 10,000
 * tasks, 942 to 1,064 ms against 996 to 1,031 ms, as warm. A smaller first
 * graph (2,000 tasks) left most of the gap.
 *
 * The rehearsal runs under a prefix of its own (`<prefix>:rehearsal:<random>`,
 * which keeps a Redis Cluster hash tag of the prefix), so no client sees its
 * graph and no other worker takes its jobs, with a TaskWorker of its own on
 * the default pool (no executors). Its keys are deleted afterwards. It is
 * best effort: a rehearsal that fails or runs past its deadline is given up
 * and the worker starts all the same.
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '../config.ts';
import { parseGraph } from '../graph/parse.ts';
import { planGraph } from '../graph/plan.ts';
import { graphTaskDefaults } from '../graph/task.ts';
import { wideGraph } from '../graph/wide.ts';
import type { OpRegistry } from '../ops/registry.ts';
import { connect, deleteKeysUnder } from '../queue/connection.ts';
import { DEFAULT_POOL, TaskQueue } from '../queue/dispatch.ts';
import { GraphStore } from '../queue/graphs.ts';
import { rehearsalPrefix } from '../queue/keys.ts';
import { ObjectStore } from '../queue/objects.ts';
import { SpillFiles } from '../store/spill.ts';
import { TaskWorker } from './worker.ts';

/** A rehearsal still running after this long is given up. */
const DEADLINE_MS = 30_000;

export interface RehearsalReport {
  /** Tasks the rehearsal graph had (0: no rehearsal). */
  tasks: number;
  /** Whether the graph ended done, its result checked. */
  done: boolean;
  ms: number;
}

/**
 * Runs a rehearsal of about `config.rehearsalTasks` tasks: `inc` tasks and
 * their `sum` tree, the shape of the wide benchmark. Skipped when that is 0
 * or the op registry lacks `inc` or `sum`.
 */
export async function rehearse(config: Config, ops: OpRegistry): Promise<RehearsalReport> {
  const t0 = performance.now();
  const n = config.rehearsalTasks;
  if (n === 0 || !ops.has('inc') || !ops.has('sum')) return { tasks: 0, done: false, ms: 0 };
  const prefix = rehearsalPrefix(config.prefix, randomBytes(6).toString('hex'));
  const scratch: Config = {
    ...config,
    prefix,
    pools: [DEFAULT_POOL],
    executorCommands: new Map(),
    rehearsalTasks: 0,
  };
  const redis = connect(config.redisUrl, 'weft-rehearsal');
  const queue = new TaskQueue(redis, prefix, config);
  const graphs = new GraphStore(redis, prefix, queue, new ObjectStore(redis, prefix, new SpillFiles(config.spillDir)));
  const worker = new TaskWorker(scratch, ops);
  let tasks = 0;
  let done = false;
  try {
    const { graph, key, expected } = wideGraph(n);
    const plan = planGraph(parseGraph(graph), key, { taskDefaults: graphTaskDefaults(undefined) });
    tasks = plan.taskCount;
    await worker.start();
    const request = { tenant: '' };
    const { id } = await graphs.register(request, plan, { ttl: 60 });
    const deadline = Date.now() + DEADLINE_MS;
    for (;;) {
      const status = await graphs.status(request, id);
      if (status !== 'queued' && status !== 'running') {
        const outcome = await graphs.outcome(request, id);
        done = status === 'done' && outcome?.result === expected;
        break;
      }
      if (Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } catch {
    // Best effort: the worker starts warm or not.
  } finally {
    await worker.close(0).catch(() => {});
    await queue
      .queue()
      .obliterate({ force: true })
      .catch(() => {});
    await queue.close().catch(() => {});
    await deleteKeysUnder(redis, prefix).catch(() => {});
    redis.disconnect();
  }
  return { tasks, done, ms: Math.round(performance.now() - t0) };
}
