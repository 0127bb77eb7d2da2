/** Plain data types of the graph format (docs/graph-format.md). */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json } | Opaque;

/**
 * A literal the graph code does not look into: bytes, or a value of weft's
 * binary types (an array chunk, a dataframe partition, a foreign value) from a
 * MessagePack request. The graph code treats it as one leaf of data.
 */
export type Opaque = Uint8Array | OpaqueObject;
/** Instances of weft's value classes; parse.ts is where they become literals. */
export interface OpaqueObject {
  readonly opaque?: never;
}

/** The op name a task with a foreign callable (`$call`) is known by until its executor names it. */
export const FOREIGN_CALL = '$call';
/** The language of weft's own ops: tasks in it run in the worker's own process. */
export const WEFT_LANGUAGE = 'weft';

/**
 * A node after parsing. Literal subtrees collapse into one `lit` so that
 * evaluation never walks data that holds no reference.
 */
export type Node =
  | { kind: 'lit'; value: Json }
  /** `index` picks output `index` of a multiple-return task. */
  | { kind: 'ref'; key: string; index?: number }
  | { kind: 'oid'; oid: string }
  /**
   * A call of weft op `op`, or, with `fn`, of a callable of another language
   * (`$call`, run by an executor: docs/executors.md); `op` is then FOREIGN_CALL.
   * `fn` is a literal foreign value or a reference to a data key holding one.
   * `lang` is the callable's language, known once the reference is followed (plan).
   * `returns`: the op returns that many values, each stored as its own object (top-level tasks only).
   */
  | {
      kind: 'task';
      op: string;
      fn?: Node;
      lang?: string;
      args: Node[];
      kwargs: [string, Node][] | null;
      returns?: number;
      options?: TaskOptions;
    }
  | { kind: 'array'; items: Node[] }
  | { kind: 'object'; entries: [string, Node][] }
  /** A value known before the graph runs (a cache hit or a presubmit answer), already encoded: no task runs for it. */
  | { kind: 'known'; encoded: Uint8Array; fingerprint?: string }
  /** A task fused into its only dependent (src/graph/fuse.ts); `key` names it in errors. */
  | { kind: 'fused'; key: string; node: Node };

/** A task's own options (top-level tasks only); they override the graph's `options`. */
export interface TaskOptions {
  /** Times the task runs again after its op throws (default: the graph's, else 0). */
  retries?: number;
  /** A run longer than this is stopped and fails with `timeout`. */
  timeoutMs?: number;
  /** Only workers serving this pool run the task (Ray's resources, Dask's annotate). */
  pool?: string;
  /** Among ready tasks, higher runs first (-10 to 10, default 0). */
  priority?: number;
}

/** Pool names: what WEFT_POOLS lists. */
export const POOL_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
/** Task and graph priorities range over these integers. */
export const MIN_PRIORITY = -10;
export const MAX_PRIORITY = 10;

/** Requested keys: a key, or arrays of keys nested (at most 32 deep). */
export type KeySpec = string | KeySpec[];

export interface GraphLimits {
  /** Deepest nesting of arrays, objects and tasks inside one node. */
  maxDepth: number;
  /** Longest key, in bytes of UTF-8 (the form keys are stored and sent in). */
  maxKeyBytes: number;
  /** The graph came as MessagePack: non-finite floats and 64-bit integers (bigint) are literals too. */
  binary?: boolean;
}

export const defaultLimits: GraphLimits = { maxDepth: 64, maxKeyBytes: 1024 };

/** Most outputs one multiple-return task may have. */
export const MAX_RETURNS = 100_000;
