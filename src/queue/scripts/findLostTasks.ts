/**
 * The wrapper of findLostTasks-4.lua: after a lost worker, the tasks that
 * finished ones made ready but that may be queued nowhere.
 */
import { graphKeys } from '../keys.ts';
import type { ScriptedRedis } from '../scripts.ts';

declare module '../scripts.ts' {
  interface ScriptCommands {
    findLostTasks(...args: ScriptArgs): Promise<number[]>;
  }
}

export interface FindLostTasks {
  graph: string;
  /** Finished tasks to walk down from. */
  finished: number[];
  /** Most nodes to visit. */
  limit: number;
}

/** The ready tasks found (none when the graph has ended). */
export async function findLostTasks(redis: ScriptedRedis, prefix: string, a: FindLostTasks): Promise<number[]> {
  const k = graphKeys(prefix, a.graph);
  const reply = await redis.findLostTasks(k.meta, k.spec, k.pend, k.done, a.limit, ...a.finished);
  return reply.map(Number);
}
