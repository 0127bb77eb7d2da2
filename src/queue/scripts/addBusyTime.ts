/**
 * The wrapper of addBusyTime-2.lua: adds a worker's spill or restore busy
 * periods (flat start, end pairs; see src/store/busy-time.ts) to the
 * cluster's busy time in P:stats (`spill_ms_total`, `restore_ms_total`),
 * counting time during which several workers were busy once.
 */
import { busyKey, statsKey } from '../keys.ts';
import type { ScriptedRedis } from '../scripts.ts';

declare module '../scripts.ts' {
  interface ScriptCommands {
    addBusyTime(...args: ScriptArgs): Promise<string>;
  }
}

/** How long busy periods are kept to merge with other workers' (they report every few seconds). */
const BUSY_KEPT_MS = 60_000;

/** Returns the milliseconds added. */
export async function addBusyTime(
  redis: ScriptedRedis,
  prefix: string,
  kind: 'spill' | 'restore',
  periods: number[],
): Promise<number> {
  if (periods.length === 0) return 0;
  const added = await redis.addBusyTime(
    statsKey(prefix),
    busyKey(prefix, kind),
    `${kind}_ms_total`,
    (Date.now() - BUSY_KEPT_MS).toFixed(3),
    ...periods.map((t) => t.toFixed(3)),
  );
  return Number(added);
}
