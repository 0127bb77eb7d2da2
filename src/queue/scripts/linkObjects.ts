/**
 * The wrapper of linkObjects-2.lua: after registration, links a graph's tasks
 * to the objects of other graphs they use ($oid inputs), atomically with
 * each object's producer: pinned and counted as arrived when the object is
 * there, or the task added to its waiters while it is still being computed.
 */
import { graphKeys } from '../keys.ts';
import type { ScriptedRedis } from '../scripts.ts';
import type { TaskErrorBody } from '../started.ts';
import { ReplyReader } from './reply.ts';

declare module '../scripts.ts' {
  interface ScriptCommands {
    linkObjects(...args: ScriptArgs): Promise<(string | number)[]>;
  }
}

export interface LinkObjects {
  graph: string;
  /** Object id -> the tasks of the graph that use it. */
  users: Map<string, number[]>;
}

export type LinkReply =
  /** Every object is linked; `ready` are tasks that have all their inputs now (enqueue them). */
  | { outcome: 'linked'; ready: number[] }
  /** No such object (or it was released, or it is not an output): the graph cannot run. */
  | { outcome: 'missing'; oid: string }
  /** The object's graph failed or was cancelled, with this error. */
  | { outcome: 'failed'; oid: string; error: TaskErrorBody };

export async function linkObjects(redis: ScriptedRedis, prefix: string, a: LinkObjects): Promise<LinkReply> {
  const groups: (string | number)[] = [];
  for (const [oid, tasks] of a.users) groups.push(oid, tasks.length, ...tasks);
  const k = graphKeys(prefix, a.graph);
  const r = new ReplyReader(await redis.linkObjects(k.meta, k.pend, prefix, ...groups));
  const outcome = r.string();
  if (outcome === 'ok') {
    const ready: number[] = [];
    while (!r.done) ready.push(r.number());
    return { outcome: 'linked', ready };
  }
  const oid = r.string();
  if (outcome === 'missing') return { outcome, oid };
  return { outcome: 'failed', oid, error: JSON.parse(r.string()) as TaskErrorBody };
}
