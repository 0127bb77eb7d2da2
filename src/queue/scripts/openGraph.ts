/**
 * The wrapper of openGraph-4.lua: the first command of a graph's
 * registration. It writes the graph's meta and lists it, admitting the graph
 * first when asked (WEFT_MAX_GRAPHS_IN_FLIGHT), so a graph written in one
 * chunk is admitted and registered in one round trip.
 */
import type { CommandBatch } from '../batch.ts';
import { activeKey, graphKeys, graphsKey, inFlightKey } from '../keys.ts';

declare module '../scripts.ts' {
  interface ScriptCommands {
    openGraph(...args: ScriptArgs): Promise<number>;
  }
}

export interface OpenGraph {
  graph: string;
  tenant: string;
  /** Admit the graph unless its tenant has this many queued or running; undefined: no admission. */
  admitLimit?: number;
  created: number;
  /** Most graphs GET /v1/graphs remembers. */
  listMax: number;
  /** It has tasks: listed among the active graphs until it ends. */
  active: boolean;
  /** Count it in stats graphs_submitted now (its registration is this one chunk). */
  count: boolean;
  meta: Record<string, string | number>;
}

/** Queues the call on `batch`, the registration's first chunk; its reply is 1 (opened) or 0 (refused). */
export function openGraph(batch: CommandBatch, prefix: string, a: OpenGraph): void {
  batch.add(
    'openGraph',
    graphKeys(prefix, a.graph).meta,
    inFlightKey(prefix, a.tenant),
    graphsKey(prefix),
    activeKey(prefix),
    a.admitLimit ?? '',
    a.graph,
    prefix,
    a.created,
    a.listMax,
    a.active ? 1 : 0,
    a.count ? 1 : 0,
    ...Object.entries(a.meta).flat(),
  );
}
