/**
 * The wrapper of readTask-2.lua: lineage reads a task's spec and its inputs
 * as they are now, changing nothing, to compute its value again.
 */
import { graphKeys } from '../keys.ts';
import type { ScriptedRedis } from '../scripts.ts';
import type { StartedTask } from '../started.ts';
import { readInputs, startedTask } from './includes/startTask.ts';
import { ReplyReader } from './reply.ts';

declare module '../scripts.ts' {
  interface ScriptCommands {
    readTaskBuffer(...args: ScriptArgs): Promise<(Buffer | number | null)[]>;
  }
}

export interface ReadTask {
  graph: string;
  index: number;
}

/** The task, ready to run; null when the graph has ended or the node is no task (a data node has no lineage). */
export async function readTask(redis: ScriptedRedis, prefix: string, a: ReadTask): Promise<StartedTask | null> {
  const k = graphKeys(prefix, a.graph);
  const reply = await redis.readTaskBuffer(k.meta, k.spec, prefix, a.index);
  const r = new ReplyReader(reply);
  if (r.done) return null;
  const spec = r.bytes()!;
  return startedTask(a.index, spec, readInputs(r));
}
