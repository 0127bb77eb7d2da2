/**
 * The task side of the scheduling state: thin typed wrappers over the Lua
 * scripts that start, complete and recover tasks, and end graphs. Workers
 * call these; nothing else changes a graph's state.
 */
import type { Template } from '../graph/template.ts';
import type { Slot } from '../graph/plan.ts';
import { finishedChannel, graphKeys } from './keys.ts';
import { decodeSpec } from './spec.ts';
import type { ScriptedRedis } from './scripts.ts';

/** What a worker needs to run one task. */
export interface StartedTask {
  index: number;
  key: string;
  deps: Slot[];
  template: Template;
  /** Encoded input values by slot; null where the object is missing. */
  inputs: (Buffer | null)[];
}

export interface StartResult {
  status: string;
  run: StartedTask[];
  /** Tasks of the bundle that another delivery already finished. */
  alreadyDone: number[];
}


export class TaskState {
  constructor(
    private readonly redis: ScriptedRedis,
    private readonly prefix: string,
  ) {}

  async start(graph: string, tasks: number[]): Promise<StartResult> {
    const k = graphKeys(this.prefix, graph);
    const reply = await this.redis.startTasksBuffer(k.meta, k.spec, k.done, k.vals, this.prefix, ...tasks);
    const status = String(reply[0]);
    const run: StartedTask[] = [];
    const alreadyDone: number[] = [];
    if (status !== 'running') return { status, run, alreadyDone };
    let at = 1;
    for (const index of tasks) {
      const code = reply[at] as number;
      const spec = reply[at + 1] as Buffer;
      const n = reply[at + 2] as number;
      at += 3;
      if (code === 1) {
        alreadyDone.push(index);
        continue;
      }
      const { key, deps, template } = decodeSpec(spec);
      run.push({ index, key, deps, template, inputs: reply.slice(at, at + n) as (Buffer | null)[] });
      at += n;
    }
    return { status, run, alreadyDone };
  }

  /** Stores results; returns the graph's status and the tasks that became ready. */
  async complete(graph: string, results: [number, Buffer][]): Promise<{ status: string; ready: number[] }> {
    const k = graphKeys(this.prefix, graph);
    const args: (number | Buffer)[] = [];
    for (const [index, value] of results) args.push(index, value);
    const reply = await this.redis.completeTasks(k.meta, k.spec, k.pend, k.refs, k.done, k.vals, finishedChannel(this.prefix), ...args);
    return { status: String(reply[0]), ready: reply.slice(1) as number[] };
  }

  /** Ends a running graph as failed or cancelled. Returns false when it had already ended. */
  async end(graph: string, status: 'failed' | 'cancelled', error: unknown): Promise<boolean> {
    const k = graphKeys(this.prefix, graph);
    const reply = await this.redis.endGraph(k.meta, k.spec, k.pend, k.refs, k.done, k.vals, status, JSON.stringify(error), finishedChannel(this.prefix));
    return reply[0] === 1;
  }

  /** Tasks made ready by finished ones but possibly enqueued nowhere (see findLostTasks-4.lua). */
  async findLost(graph: string, finished: number[], limit = 100_000): Promise<number[]> {
    const k = graphKeys(this.prefix, graph);
    return this.redis.findLostTasks(k.meta, k.spec, k.pend, k.done, limit, ...finished);
  }
}
