/**
 * The name of every Redis key weft uses, in one module: TypeScript builds no
 * key anywhere else (the Lua scripts name the keys they derive themselves in
 * their headers). docs/architecture.md lists each key, its content and who
 * writes it.
 *
 * Every key of a graph carries the graph id as a hash tag, `{id}`, so a graph
 * lives in one Redis Cluster slot and its scripts may touch all its keys.
 * The scripts find the graph id as the last `{...}` of a key.
 */

/** The keys of one graph: its scheduling state, its objects and their bookkeeping. */
export interface GraphKeys {
  /** Hash: status, counters, outputs, error, tenant (docs/architecture.md lists the fields). */
  meta: string;
  /** Hash: node index -> task spec (src/queue/spec.ts). */
  spec: string;
  /** Hash: node index -> task inputs not yet computed. */
  pend: string;
  /** Hash: node index -> consumers left - 1. */
  refs: string;
  /** Bitmap: finished nodes. */
  done: string;
  /** Hash: node index (or "index:j") -> the node's value: the graph's objects. */
  vals: string;
  /** Stream: the graph's lifecycle events. */
  events: string;
  /** Hash: task classes (pool and priority) of tasks not in the default one. */
  cls: string;
  /** Hash: field -> "file:offset:length" of a value on disk (its vals field is then a stub). */
  spilled: string;
  /**
   * Hash: vals field -> token of the run that wrote a big result there before
   * its completion (completeTasks-6.lua); the completion that takes the value clears it.
   */
  staged: string;
  /** Hash: output node -> running graphs that use it as an $oid input. */
  pins: string;
  /** Set: output nodes a client released. */
  released: string;
  /** Hash: output node -> tasks of other graphs waiting for it. */
  waiters: string;
  /** Hash: the graph's webhooks and their delivery state (src/queue/webhooks.ts). */
  hooks: string;
}

export function graphKeys(prefix: string, graph: string): GraphKeys {
  const base = graphBase(prefix, graph);
  return {
    meta: base + 'meta',
    spec: base + 'spec',
    pend: base + 'pend',
    refs: base + 'refs',
    done: base + 'done',
    vals: base + 'vals',
    events: base + 'events',
    cls: base + 'cls',
    spilled: base + 'spilled',
    pins: base + 'pins',
    released: base + 'released',
    waiters: base + 'waiters',
    hooks: base + 'hooks',
    staged: base + 'staged',
  };
}

/** What every key of a graph starts with: `<prefix>:{<graph>}:` (graphBase in the objects include says the same). */
function graphBase(prefix: string, graph: string): string {
  return `${prefix}:{${graph}}:`;
}

/**
 * The `spilled` hash beside a `vals` hash, from the vals key alone: an input
 * passed by reference names only its hash key (parseInputReference, src/store/spill.ts).
 */
export function spilledKeyOf(valsKey: string): string {
  return `${valsKey.slice(0, -'vals'.length)}spilled`;
}

/** Pub/sub channel on which the id of every graph that ends is published. */
export function finishedChannel(prefix: string): string {
  return `${prefix}:finished`;
}

/** Hash of op name -> description, written by workers as they start. */
export function opsKey(prefix: string): string {
  return `${prefix}:ops`;
}

/** Hash of op name -> "version|deterministic (1 or 0)", written by workers beside opsKey. */
export function opsMetaKey(prefix: string): string {
  return `${opsKey(prefix)}:meta`;
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

/** The set of a tenant's graphs that are queued or running (admitGraph-1.lua adds, finishGraph removes). */
export function inFlightKey(prefix: string, tenant: string): string {
  return `${prefix}:inflight:${tenant}`;
}

/**
 * A result in the result cache (options.cache): `name` is the task's
 * fingerprint in its tenant's namespace (src/queue/known.ts). completeTasks
 * writes it (`cache:` .. the spec's cache field).
 */
export function cacheKey(prefix: string, name: string): string {
  return `${prefix}:cache:${name}`;
}

/** Hash of the store's settings the scripts read: spillmin, cachettl, inlinemax (written by workers at start). */
export function storeConfigKey(prefix: string): string {
  return `${prefix}:store`;
}

/** Sorted set of object id -> last use (ms) of values of at least SPILL_MIN_BYTES: the spill candidates. */
export function lruKey(prefix: string): string {
  return `${prefix}:lru`;
}

/** Hash of spill file -> bytes of live objects in it. */
export function spillLiveKey(prefix: string): string {
  return `${prefix}:spill:live`;
}

/** Hash of object id -> "offset:length": the live objects of one spill file (to compact it). */
export function spillIndexKey(prefix: string, file: string): string {
  return `${prefix}:spill:index:${file}`;
}

/** Sorted set of the last minute's spill or restore busy periods of all workers (addBusyTime-2.lua). */
export function busyKey(prefix: string, kind: 'spill' | 'restore'): string {
  return `${prefix}:busy:${kind}`;
}

/** The prefix of one rehearsal run of a worker (src/workers/rehearsal.ts): all of the run's keys are under it. */
export function rehearsalPrefix(prefix: string, run: string): string {
  return `${prefix}:rehearsal:${run}`;
}

/** The SCAN MATCH pattern of every key under `prefix` (as a rehearsal deletes its keys). */
export function keysUnder(prefix: string): string {
  return `${prefix}:*`;
}

/** The BullMQ queue of the default pool; other pools' are `tasks-<pool>` (src/queue/dispatch.ts). */
export const TASK_QUEUE = 'tasks';
