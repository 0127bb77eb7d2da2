/**
 * The task side of the scheduling state, as workers use it: start, complete,
 * retry and recover tasks, end graphs. Each step is one script (its wrapper
 * in src/queue/scripts owns its keys, arguments and reply); this class adds
 * what lies around the scripts: reading inputs passed by reference, a task's
 * placement in the queues, and failing the graphs that waited on an ended one.
 */
import type { Placement } from './dispatch.ts';
import { graphKeys, spilledKeyOf } from './keys.ts';
import type { ScriptedRedis } from './scripts.ts';
import { completeTasks, type Completion } from './scripts/completeTasks.ts';
import { endGraph } from './scripts/endGraph.ts';
import { findLostTasks } from './scripts/findLostTasks.ts';
import { readTask } from './scripts/readTask.ts';
import { retryTask } from './scripts/retryTask.ts';
import { startTasks, type StartReply } from './scripts/startTasks.ts';
import type { Runner, StartedTask, TaskErrorBody, TaskResult } from './started.ts';
import { parseInputReference, storedForm } from '../store/stored-bytes.ts';

export type { Completion } from './scripts/completeTasks.ts';
export type { Runner, StartedTask, TaskErrorBody, TaskResult } from './started.ts';
/** A start's reply: the graph's status and what became of each task of the bundle. */
export type StartResult = StartReply;

/** Most bytes of input values one start returns: a reply is Redis memory too, and big values are better read a few at a time. */
export const START_BYTES = 8 * 1024 * 1024;

/**
 * Inputs longer than this are passed by reference by the start scripts and
 * read by the worker with HGET (fetchReferenced): through Lua a value is
 * copied twice, and Redis spends about three times as long on it (measured
 * 290 MB/s against 800 MB/s for 2 MiB values). Workers write it to
 * <prefix>:store (inlinemax) at start.
 */
export const INLINE_MAX_BYTES = 256 * 1024;

/** The error of a graph whose input object could not be computed: it names the object and carries the original error. */
export function objectFailed(oid: string, cause: TaskErrorBody, status = 'failed'): TaskErrorBody {
  return {
    code: 'object_failed',
    message: `Input object ${oid} has no value: its graph ${status === 'cancelled' ? 'was cancelled' : 'failed'}: ${cause?.message ?? 'unknown error'}`,
    object: oid,
    cause,
  };
}

export class TaskState {
  constructor(
    private readonly redis: ScriptedRedis,
    private readonly prefix: string,
  ) {}

  /** Starts a bundle (a job): its tasks to run with their inputs, those done already, those deferred. */
  start(graph: string, tasks: number[], runner: Runner, tag = 0): Promise<StartResult> {
    return startTasks(this.redis, this.prefix, { graph, tasks, runner, tag, maxBytes: START_BYTES });
  }

  /**
   * Reads the inputs the start scripts passed by reference (over
   * INLINE_MAX_BYTES), in place, in one round trip: the value itself; the
   * stub and location of one spilled meanwhile (the spill swap is atomic, and
   * the location is read in the same round trip); or null where it is gone.
   */
  async fetchReferenced(tasks: StartedTask[]): Promise<void> {
    const wanted: [StartedTask, number, { key: string; field: string }][] = [];
    for (const task of tasks) {
      task.inputs.forEach((v, i) => {
        const ref = storedForm(v) === 'reference' && parseInputReference(v!);
        if (ref) wanted.push([task, i, ref]);
      });
    }
    if (wanted.length === 0) return;
    const pipe = this.redis.pipeline();
    for (const [, , { key, field }] of wanted) pipe.hgetBuffer(key, field).hgetBuffer(spilledKeyOf(key), field);
    const replies = (await pipe.exec()) ?? [];
    wanted.forEach(([task, i], w) => {
      const [err, value] = replies[2 * w] as [Error | null, Buffer | null];
      if (err) throw err;
      const location = replies[2 * w + 1][1] as Buffer | null;
      // A stub alone is as lost as a missing value (lineage computes it again).
      task.inputs[i] = storedForm(value) === 'stub' && location ? Buffer.concat([value!, location]) : value;
    });
  }

  /**
   * Stores results. Returns the graph's status, the tasks that became ready
   * for the queue, tasks of other graphs that became ready (they waited for
   * these results as $oid inputs), tasks that were done already (skipped)
   * and, when `take` > 0, up to `take` more that became ready and were
   * started for the caller to run next: only tasks of the `pools` it serves.
   */
  complete(
    graph: string,
    results: TaskResult[],
    take: number,
    spread: number,
    runner: Runner,
    pools: readonly string[],
  ): Promise<Completion> {
    return completeTasks(this.redis, this.prefix, {
      graph,
      results,
      take,
      spread,
      maxBytes: START_BYTES,
      runner,
      pools,
    });
  }

  /**
   * Where tasks of a graph go when they are enqueued off the main path
   * (deferred, recovered, retried, woken by another graph): their classes, if
   * the graph has any, and the graph's fairness tag (dispatch.ts).
   */
  async placement(graph: string, tasks: number[]): Promise<Placement> {
    const k = graphKeys(this.prefix, graph);
    const [classed, front] = await this.redis.hmget(k.meta, 'classes', 'front');
    const tag = Number(front ?? 0);
    if (classed === null || tasks.length === 0) return { tag };
    const classes = await this.redis.hmget(k.cls, ...tasks.map(String));
    return { tag, classes: classes.map((c) => c ?? '') };
  }

  /**
   * Ends a running graph as failed or cancelled, and fails the graphs that
   * were waiting for its outputs. Returns false when it had already ended.
   */
  async end(graph: string, status: 'failed' | 'cancelled', error: TaskErrorBody): Promise<boolean> {
    const ended = await endGraph(this.redis, this.prefix, { graph, status, error });
    if (!ended.ended) return false;
    for (const waiting of ended.waiting)
      await this.end(waiting.graph, 'failed', objectFailed(waiting.oid, error, status));
    return true;
  }

  /**
   * A task whose op threw will run again: it stops counting as running and a
   * posttask event records the failure (retryTask-1.lua). False when the
   * graph already ended (nothing to retry).
   */
  retry(graph: string, task: StartedTask, ms: number, runner: Runner, error: TaskErrorBody): Promise<boolean> {
    return retryTask(this.redis, this.prefix, { graph, key: task.key, ms, runner, error });
  }

  /**
   * Lineage: the spec and current inputs of task `index` of a running graph
   * (readTask-2.lua), to compute its value again; null when the graph ended
   * or `index` is not a task (a data node has no lineage).
   */
  lineage(graph: string, index: number): Promise<StartedTask | null> {
    return readTask(this.redis, this.prefix, { graph, index });
  }

  /** Tasks made ready by finished ones but possibly enqueued nowhere (see findLostTasks-4.lua). */
  findLost(graph: string, finished: number[], limit = 100_000): Promise<number[]> {
    return findLostTasks(this.redis, this.prefix, { graph, finished, limit });
  }
}
