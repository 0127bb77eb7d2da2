/**
 * The wrapper of addEvents-1.lua: appends an entry of events to a graph's
 * stream, for the events the API writes (postsubmit of the first ready
 * tasks, postsubmit_all, the finish of a graph with no task); the scripts
 * add the others themselves.
 */
import type { CommandBatch } from '../batch.ts';
import { graphKeys } from '../keys.ts';

declare module '../scripts.ts' {
  interface ScriptCommands {
    addEvents(...args: ScriptArgs): Promise<null>;
  }
}

/** Queues the entry on `batch`, written with the rest of a registration. */
export function addEvents(
  batch: CommandBatch,
  prefix: string,
  graph: string,
  type: string,
  count: number,
  details: unknown,
): void {
  batch.add('addEvents', graphKeys(prefix, graph).meta, type, count, JSON.stringify(details));
}
