/**
 * The wrapper of endGraph-6.lua: fails or cancels a graph that has not
 * ended. Graphs waiting for its outputs are named in the reply; failing them
 * too is the caller's part (TaskState.end).
 */
import { finishedChannel, graphKeys } from '../keys.ts';
import type { ScriptedRedis } from '../scripts.ts';
import type { TaskErrorBody } from '../started.ts';
import { ReplyReader } from './reply.ts';

declare module '../scripts.ts' {
  interface ScriptCommands {
    endGraph(...args: ScriptArgs): Promise<(string | number)[]>;
  }
}

export interface EndGraph {
  graph: string;
  status: 'failed' | 'cancelled';
  error: TaskErrorBody;
}

/** A graph that was waiting for an output of the ended one (`oid`) as an input. */
export interface WaitingGraph {
  graph: string;
  oid: string;
}

export type EndReply =
  /** The graph ended now. */
  | { ended: true; waiting: WaitingGraph[] }
  /** It had ended already (or never existed): nothing changed. */
  | { ended: false; status: string };

export async function endGraph(redis: ScriptedRedis, prefix: string, a: EndGraph): Promise<EndReply> {
  const k = graphKeys(prefix, a.graph);
  const reply = await redis.endGraph(
    k.meta,
    k.spec,
    k.pend,
    k.refs,
    k.done,
    k.vals,
    a.status,
    JSON.stringify(a.error),
    finishedChannel(prefix),
    prefix,
  );
  const r = new ReplyReader(reply);
  if (r.number() !== 1) return { ended: false, status: r.string() };
  const waiting: WaitingGraph[] = [];
  while (!r.done) {
    // "graph oid"
    const [graph, oid] = r.string().split(' ');
    waiting.push({ graph, oid });
  }
  return { ended: true, waiting };
}
