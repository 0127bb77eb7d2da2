/**
 * Names of the Redis keys that hold a graph's scheduling state. Every key of a
 * graph carries the graph id as a hash tag, `{id}`, so a graph lives in one
 * Redis Cluster slot and its scripts may touch all its keys.
 * docs/architecture.md lists each key and who writes it.
 */
import { valuesKey } from '../store/objects.ts';

export interface GraphKeys {
  meta: string;
  spec: string;
  pend: string;
  refs: string;
  done: string;
  vals: string;
  events: string;
  /** Task classes (pool and priority) of tasks not in the default one. */
  cls: string;
}

export function graphKeys(prefix: string, graph: string): GraphKeys {
  const base = `${prefix}:{${graph}}:`;
  return {
    meta: base + 'meta',
    spec: base + 'spec',
    pend: base + 'pend',
    refs: base + 'refs',
    done: base + 'done',
    vals: valuesKey(prefix, graph),
    events: base + 'events',
    cls: base + 'cls',
  };
}

/** Pub/sub channel on which the id of every graph that ends is published. */
export function finishedChannel(prefix: string): string {
  return `${prefix}:finished`;
}

/** Hash of op name -> description, written by workers as they start. */
export function opsKey(prefix: string): string {
  return `${prefix}:ops`;
}

/** Sorted set of worker id -> last heartbeat (ms). */
export function workersKey(prefix: string): string {
  return `${prefix}:workers`;
}

/** Hash of one worker's details (src/queue/workers.ts), expiring unless the worker keeps beating. */
export function workerKey(prefix: string, id: string): string {
  return `${prefix}:workers:${id}`;
}

/** Hash of cluster-wide counters: store, cache, tasks, graphs, webhooks (docs/architecture.md lists them). */
export function statsKey(prefix: string): string {
  return `${prefix}:stats`;
}

/** Sorted set of graph id -> created (ms): the newest graphs, for GET /v1/graphs. */
export function graphsKey(prefix: string): string {
  return `${prefix}:graphs`;
}

/** Sorted set of graph id -> created (ms) of graphs not yet ended, for the graphs-by-state gauge. */
export function activeKey(prefix: string): string {
  return `${prefix}:active`;
}

/** Hash of the task duration histogram: `le:<bound>` counts, `sum`, `count`, added to by workers at each heartbeat. */
export function durationsKey(prefix: string): string {
  return `${prefix}:metrics:task_seconds`;
}

export const TASK_QUEUE = 'tasks';

/** The set of a tenant's graphs that are queued or running (admitGraph-1.lua adds, finishGraph removes). */
export function inFlightKey(prefix: string, tenant: string): string {
  return `${prefix}:inflight:${tenant}`;
}
