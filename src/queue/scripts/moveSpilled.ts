/**
 * The wrapper of moveSpilled-1.lua (compaction): objects copied from a
 * mostly dead spill file to another are pointed there, each only if it is
 * still where the copy was made from.
 */
import { spillLiveKey } from '../keys.ts';
import type { ScriptedRedis } from '../scripts.ts';

declare module '../scripts.ts' {
  interface ScriptCommands {
    moveSpilled(...args: ScriptArgs): Promise<[number, number]>;
  }
}

export interface MoveSpilled {
  /** The file the objects were copied from, and the one they were copied to. */
  from: string;
  to: string;
  /** Each object, where it was ("offset:length" in `from`), and its offset in `to`. */
  objects: { oid: string; at: string; offset: number }[];
}

/** How many objects now point to `to`, and their bytes. */
export async function moveSpilled(
  redis: ScriptedRedis,
  prefix: string,
  a: MoveSpilled,
): Promise<{ moved: number; bytes: number }> {
  const triples = a.objects.flatMap((o) => [o.oid, o.at, o.offset]);
  const [moved, bytes] = await redis.moveSpilled(spillLiveKey(prefix), prefix, a.from, a.to, ...triples);
  return { moved, bytes };
}
