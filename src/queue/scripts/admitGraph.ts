/**
 * The wrapper of admitGraph-1.lua: admits a new graph of a tenant unless the
 * tenant has `limit` graphs queued or running (WEFT_MAX_GRAPHS_IN_FLIGHT).
 */
import { inFlightKey } from '../keys.ts';
import type { ScriptedRedis } from '../scripts.ts';

declare module '../scripts.ts' {
  interface ScriptCommands {
    admitGraph(...args: ScriptArgs): Promise<number>;
  }
}

export interface AdmitGraph {
  graph: string;
  tenant: string;
  limit: number;
}

/** True when admitted; false when the tenant is at its limit. */
export async function admitGraph(redis: ScriptedRedis, prefix: string, a: AdmitGraph): Promise<boolean> {
  return (await redis.admitGraph(inFlightKey(prefix, a.tenant), a.limit, a.graph, prefix)) === 1;
}
