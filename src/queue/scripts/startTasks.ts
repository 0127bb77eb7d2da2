/**
 * The wrapper of startTasks-4.lua: starts a bundle of tasks of one graph (a
 * job), returning for each whether to run it, with its spec and its inputs.
 */
import { graphKeys } from '../keys.ts';
import type { ScriptedRedis } from '../scripts.ts';
import type { Runner } from '../started.ts';
import { readStartedEntries, type StartedEntries } from './includes/startTask.ts';
import { ReplyReader } from './reply.ts';

declare module '../scripts.ts' {
  interface ScriptCommands {
    startTasksBuffer(...args: ScriptArgs): Promise<(Buffer | number | null)[]>;
  }
}

export interface StartTasks {
  graph: string;
  tasks: number[];
  runner: Runner;
  /** The job's fairness tag (src/queue/dispatch.ts): the graph's frontier rises to it. */
  tag: number;
  /** Most bytes of inputs to return; tasks past it are deferred (at least one task starts). */
  maxBytes: number;
}

/** The graph's status and, when it is running, the bundle's tasks. */
export interface StartReply extends StartedEntries {
  status: string;
}

export async function startTasks(redis: ScriptedRedis, prefix: string, a: StartTasks): Promise<StartReply> {
  const k = graphKeys(prefix, a.graph);
  const reply = await redis.startTasksBuffer(
    k.meta,
    k.spec,
    k.done,
    k.vals,
    prefix,
    a.maxBytes,
    a.runner.worker,
    a.runner.attempt,
    a.tag,
    ...a.tasks,
  );
  const r = new ReplyReader(reply);
  const status = r.string();
  // Not running (ended, or no such graph): the reply is the status alone.
  if (status !== 'running') return { status, run: [], alreadyDone: [], deferred: [] };
  return { status, ...readStartedEntries(r) };
}
