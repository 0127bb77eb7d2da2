/**
 * The wrapper of releaseObject-1.lua (DELETE /v1/objects/{oid}): the object
 * is gone for clients; its bytes are freed now, or once nothing pins it.
 */
import { graphKeys } from '../keys.ts';
import type { ScriptedRedis } from '../scripts.ts';

declare module '../scripts.ts' {
  interface ScriptCommands {
    releaseObject(...args: ScriptArgs): Promise<number>;
  }
}

export interface ReleaseObject {
  graph: string;
  /** The object's field in its graph's vals hash. */
  node: string;
}

/** True when released; false when there is no such object (never existed, released already, or not an output). */
export async function releaseObject(redis: ScriptedRedis, prefix: string, a: ReleaseObject): Promise<boolean> {
  return (await redis.releaseObject(graphKeys(prefix, a.graph).meta, a.node)) === 1;
}
