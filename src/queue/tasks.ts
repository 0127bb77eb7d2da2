/**
 * The task side of the scheduling state: thin typed wrappers over the Lua
 * scripts that start, complete and recover tasks, and end graphs. Workers
 * call these; nothing else changes a graph's state.
 */
import type { Template } from '../graph/template.ts';
import type { Slot } from '../graph/plan.ts';
import { finishedChannel, graphKeys, spilledKeyOf } from './keys.ts';
import { decodeSpec } from './spec.ts';
import type { ScriptedRedis } from './scripts.ts';
import type { Placement } from './dispatch.ts';
import { parseInputReference, storedForm } from '../store/stored-bytes.ts';

/** A finished task: its index, its run time (ms) and its encoded value, or values for a multiple-return task. */
export type TaskResult = [number, number, Buffer[]];

/** Who runs tasks, for the pretask and posttask events. */
export interface Runner {
  worker: string;
  attempt: number;
}

/** What a worker needs to run one task. */
export interface StartedTask {
  index: number;
  key: string;
  deps: Slot[];
  template: Template;
  /** Set for a multiple-return task. */
  returns?: number;
  /** Runs again after its op throws, this many times at most. */
  retries?: number;
  /** A run longer than this (ms) is stopped and fails with `timeout`. */
  timeoutMs?: number;
  /** Which run of the task this is (1 for the first; an op error with retries left gives it another). */
  tries?: number;
  /** Encoded input values by slot; null where the object is missing. */
  inputs: (Buffer | null)[];
}

/** What completing a batch gave: ready tasks for the queue (with their placement), other graphs' ready tasks, tasks done before, and the continuation. */
export interface Completion {
  status: string;
  ready: { tasks: number[]; placement: Placement };
  elsewhere: [string, number][];
  skipped: number[];
  next: StartResult;
}

export interface StartResult {
  status: string;
  run: StartedTask[];
  /** Tasks of the bundle that another delivery already finished. */
  alreadyDone: number[];
  /** Tasks not started because the reply already held START_BYTES of inputs: enqueue them again. */
  deferred: number[];
}

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

/** What a failed or cancelled graph records as its error (the API's TaskError). */
export interface TaskErrorBody {
  message: string;
  key?: string;
  op?: string;
  stack?: string;
  code?: string;
  [more: string]: unknown;
}

/** The error of a graph whose input object could not be computed: it names the object and carries the original error. */
export function objectFailed(oid: string, cause: TaskErrorBody, status = 'failed'): TaskErrorBody {
  return {
    code: 'object_failed',
    message: `Input object ${oid} has no value: its graph ${status === 'cancelled' ? 'was cancelled' : 'failed'}: ${cause?.message ?? 'unknown error'}`,
    object: oid,
    cause,
  };
}

/** Reads the started-task entries of a script's reply, from `at` to its end (see includes/startTask.lua). */
function readStarted(
  reply: (Buffer | number | null)[],
  at: number,
): { run: StartedTask[]; alreadyDone: number[]; deferred: number[] } {
  const run: StartedTask[] = [];
  const alreadyDone: number[] = [];
  const deferred: number[] = [];
  while (at < reply.length) {
    const index = reply[at] as number;
    const code = reply[at + 1] as number;
    const n = reply[at + 3] as number;
    if (code === 1) alreadyDone.push(index);
    else if (code === 2) deferred.push(index);
    else {
      const { key, deps, template, returns, retries, timeoutMs } = decodeSpec(reply[at + 2] as Buffer);
      run.push({
        index,
        key,
        deps,
        template,
        returns,
        retries,
        timeoutMs,
        inputs: reply.slice(at + 4, at + 4 + n) as (Buffer | null)[],
      });
    }
    at += 4 + n;
  }
  return { run, alreadyDone, deferred };
}

export class TaskState {
  constructor(
    private readonly redis: ScriptedRedis,
    private readonly prefix: string,
  ) {}

  async start(graph: string, tasks: number[], runner: Runner, tag = 0): Promise<StartResult> {
    const k = graphKeys(this.prefix, graph);
    const reply = await this.redis.startTasksBuffer(
      k.meta,
      k.spec,
      k.done,
      k.vals,
      this.prefix,
      START_BYTES,
      runner.worker,
      runner.attempt,
      tag,
      ...tasks,
    );
    const status = String(reply[0]);
    if (status !== 'running') return { status, run: [], alreadyDone: [], deferred: [] };
    return { status, ...readStarted(reply, 1) };
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
   * started for the caller to run next.
   */
  async complete(
    graph: string,
    results: TaskResult[],
    take: number,
    spread: number,
    runner: Runner,
    pools: string,
  ): Promise<Completion> {
    const k = graphKeys(this.prefix, graph);
    const args: (number | Buffer)[] = [];
    for (const [index, ms, values] of results) args.push(index, Math.round(ms * 1000) / 1000, values.length, ...values);
    const reply = await this.redis.completeTasksBuffer(
      k.meta,
      k.spec,
      k.pend,
      k.refs,
      k.done,
      k.vals,
      finishedChannel(this.prefix),
      this.prefix,
      take,
      spread,
      START_BYTES,
      runner.worker,
      runner.attempt,
      pools,
      ...args,
    );
    const status = String(reply[0]);
    if (reply.length === 1)
      return {
        status,
        ready: { tasks: [], placement: {} },
        elsewhere: [],
        skipped: [],
        next: { status, run: [], alreadyDone: [], deferred: [] },
      };
    const tag = reply[1] as number;
    const classed = reply[2] === 1;
    const n = reply[3] as number;
    let at = 4;
    const tasks = reply.slice(at, (at += n)) as number[];
    const classes = classed ? reply.slice(at, (at += n)).map(String) : undefined;
    const m = reply[at++] as number;
    const elsewhere: [string, number][] = [];
    for (let i = 0; i < m; i++, at += 2) elsewhere.push([String(reply[at]), reply[at + 1] as number]);
    const s = reply[at++] as number;
    const skipped = reply.slice(at, (at += s)) as number[];
    return {
      status,
      ready: { tasks, placement: { tag, classes } },
      elsewhere,
      skipped,
      next: { status: 'running', ...readStarted(reply, at) },
    };
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
    const k = graphKeys(this.prefix, graph);
    const reply = await this.redis.endGraph(
      k.meta,
      k.spec,
      k.pend,
      k.refs,
      k.done,
      k.vals,
      status,
      JSON.stringify(error),
      finishedChannel(this.prefix),
      this.prefix,
    );
    if (reply[0] !== 1) return false;
    for (const orphan of reply.slice(1) as string[]) {
      const [waiting, oid] = orphan.split(' ');
      await this.end(waiting, 'failed', objectFailed(oid, error, status));
    }
    return true;
  }

  /**
   * A task whose op threw will run again: it stops counting as running and a
   * posttask event records the failure (retryTask-1.lua). False when the
   * graph already ended (nothing to retry).
   */
  async retry(graph: string, task: StartedTask, ms: number, runner: Runner, error: TaskErrorBody): Promise<boolean> {
    const k = graphKeys(this.prefix, graph);
    return (
      (await this.redis.retryTask(
        k.meta,
        task.key,
        Math.round(ms * 1000) / 1000,
        runner.worker,
        runner.attempt,
        JSON.stringify(error),
      )) === 1
    );
  }

  /**
   * Lineage: the spec and current inputs of task `index` of a running graph
   * (readTask-2.lua), to compute its value again; null when the graph ended
   * or `index` is not a task (a data node has no lineage).
   */
  async lineage(graph: string, index: number): Promise<StartedTask | null> {
    const k = graphKeys(this.prefix, graph);
    const reply = await this.redis.readTaskBuffer(k.meta, k.spec, this.prefix, index);
    if (reply.length === 0) return null;
    const { key, deps, template, returns } = decodeSpec(reply[0] as Buffer);
    return {
      index,
      key,
      deps,
      template,
      returns,
      inputs: reply.slice(2, 2 + (reply[1] as number)) as (Buffer | null)[],
    };
  }

  /** Tasks made ready by finished ones but possibly enqueued nowhere (see findLostTasks-4.lua). */
  async findLost(graph: string, finished: number[], limit = 100_000): Promise<number[]> {
    const k = graphKeys(this.prefix, graph);
    return this.redis.findLostTasks(k.meta, k.spec, k.pend, k.done, limit, ...finished);
  }
}
