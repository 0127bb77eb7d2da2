/**
 * `delayed(op)(...args)`: graphs built from calls, as `dask.delayed`. Each
 * call is a task whose key is a token of the op and its arguments, so the
 * same call made twice is one task.
 *
 *   const total = delayed('add')(delayed('inc')(1), 10);
 *   await client.compute(total); // 12, or total.compute()
 */
import { type Layers, type Node, type ObjectRef, isObjectRef, literal, ref, task, withLayer } from './graph.ts';
import { type Runner, defaultRunner } from './runner.ts';
import { tokenName } from './tokenize.ts';

/** What computing something means: the layers, the key whose value is the result, and how the JSON result becomes the client's value. */
export interface Target {
  readonly layers: Layers;
  readonly key: string;
  revive(value: unknown): unknown;
}

/** What persisting something means: the keys to keep as objects, and the same thing rebuilt on their futures. */
export interface PersistPlan<T> {
  readonly layers: Layers;
  readonly keys: string[];
  rebuild(outputs: ObjectRef[]): T;
}

/** Anything a client can compute: Delayed values and the collections. */
export interface Computable {
  target(): Target;
}

/** Anything a client can persist. */
export interface Persistable<T> {
  persistPlan(): PersistPlan<T>;
}

/** A layer of futures standing in for the keys that made them: later graphs read the stored objects instead of recomputing. */
export function futuresLayer(keys: string[], outputs: ObjectRef[]): Record<string, Node> {
  if (outputs.length !== keys.length)
    throw new Error(`persist gave ${outputs.length} futures for ${keys.length} keys.`);
  return Object.fromEntries(keys.map((k, i) => [k, { $oid: outputs[i].$oid }]));
}

/** Keyword arguments for a delayed call: `delayed('array.sum')(x, kwargs({ axis: 0 }))`. */
export class Kwargs {
  constructor(readonly values: Record<string, unknown>) {}
}

export function kwargs(values: Record<string, unknown>): Kwargs {
  return new Kwargs(values);
}

export class Delayed implements Computable, Persistable<Delayed> {
  constructor(
    readonly key: string,
    readonly layers: Layers,
  ) {}

  get tokenName(): string {
    return this.key;
  }

  target(): Target {
    return { layers: this.layers, key: this.key, revive: (v) => v };
  }

  persistPlan(): PersistPlan<Delayed> {
    return {
      layers: this.layers,
      keys: [this.key],
      rebuild: (outputs) => new Delayed(this.key, new Map([[this.key, futuresLayer([this.key], outputs)]])),
    };
  }

  /**
   * Its value, as `client.compute(d)`; without a client the newest Client
   * runs it, as for the collections. Reductions over all elements are
   * Delayed values, so `await x.mean().compute()` works as on an Array.
   */
  compute<T = unknown>(client: Runner = defaultRunner()): Promise<T> {
    return client.compute(this) as Promise<T>;
  }

  /** The same value standing on its stored object (`client.persist(d)`). */
  persist(client: Runner = defaultRunner()): Promise<Delayed> {
    return client.persist(this);
  }

  /** `x[index]`: element of an array result or field of an object result. */
  get(index: number | string): Delayed {
    return delayed('getitem')(this, index);
  }
}

/** A node for a call argument: Delayed values and collections by reference, futures as they are, anything else a literal. */
function argNode(arg: unknown, parents: Layers[]): Node {
  if (isComputable(arg)) {
    const t = arg.target();
    parents.push(t.layers);
    return ref(t.key);
  }
  if (isObjectRef(arg)) return { $oid: arg.$oid };
  if (Array.isArray(arg) && arg.some(holdsComputable)) return arg.map((a) => argNode(a, parents));
  if (
    isPlainObject(arg) &&
    Object.values(arg).some(holdsComputable) &&
    !Object.keys(arg).some((k) => k.startsWith('$'))
  ) {
    return Object.fromEntries(Object.entries(arg).map(([k, v]) => [k, argNode(v, parents)]));
  }
  return literal(arg);
}

function holdsComputable(v: unknown): boolean {
  if (isComputable(v) || isObjectRef(v)) return true;
  if (Array.isArray(v)) return v.some(holdsComputable);
  return isPlainObject(v) && Object.values(v).some(holdsComputable);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

export function isComputable(v: unknown): v is Computable {
  return typeof v === 'object' && v !== null && typeof (v as Computable).target === 'function';
}

/**
 * A function that builds a task calling `op` (a name from `GET /v1/ops`)
 * instead of running anything. A `Kwargs` as the last argument gives keyword
 * arguments. `name` sets the key prefix (default: the op's name).
 */
export function delayed(op: string, options: { name?: string } = {}): (...args: unknown[]) => Delayed {
  return (...args: unknown[]) => {
    const kw = args.at(-1) instanceof Kwargs ? (args.pop() as Kwargs).values : undefined;
    const parents: Layers[] = [];
    const argNodes = args.map((a) => argNode(a, parents));
    const kwNodes = kw && Object.fromEntries(Object.entries(kw).map(([k, v]) => [k, argNode(v, parents)]));
    const key = tokenName(options.name ?? op, op, argNodes, kwNodes);
    return new Delayed(key, withLayer(parents, key, { [key]: task(op, argNodes, kwNodes) }));
  };
}
