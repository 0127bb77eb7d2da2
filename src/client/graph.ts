/**
 * What every collection is made of: layers of graph nodes (Dask's
 * high-level graph: a layer per operation, named by its token, so two
 * collections that share history share layers), plus the node builders that
 * turn client values into weft's JSON graph format (docs/graph-format.md).
 */

/** A graph node in weft's JSON format. */
export type Node = unknown;

/** Layer name -> the nodes it defines. Immutable once built: collections share them. */
export type Layers = ReadonlyMap<string, Readonly<Record<string, Node>>>;

/** Layers of several parents plus a new one. */
export function withLayer(parents: Layers[], name: string, nodes: Record<string, Node>): Layers {
  const out = new Map<string, Readonly<Record<string, Node>>>();
  for (const layers of parents) for (const [n, l] of layers) out.set(n, l);
  out.set(name, nodes);
  return out;
}

/** One graph from layers: a key defined by two layers keeps the later one (both come from the same expression). */
export function mergeLayers(all: Layers[]): Record<string, Node> {
  const graph: Record<string, Node> = {};
  const seen = new Set<string>();
  for (const layers of all) {
    for (const [name, nodes] of layers) {
      if (seen.has(name)) continue;
      seen.add(name);
      Object.assign(graph, nodes);
    }
  }
  return graph;
}

export const ref = (key: string): Node => ({ $ref: key });

/** A task node; `kwargs` left out when empty. */
export function task(op: string, args: Node[], kwargs?: Record<string, Node>): Node {
  return kwargs && Object.keys(kwargs).length > 0 ? { $op: op, args, kwargs } : { $op: op, args };
}

/** Client data as a literal node: wrapped in `$literal` when it holds anything that could read as a marker. */
export function literal(value: unknown): Node {
  if (value === null || typeof value !== 'object') return value;
  return { $literal: value };
}

/** The `{"$oid"}` form of a future. */
export interface ObjectRef {
  $oid: string;
}

export function isObjectRef(v: unknown): v is ObjectRef {
  return (
    typeof v === 'object' && v !== null && typeof (v as ObjectRef).$oid === 'string' && Object.keys(v).length === 1
  );
}

/** Partials merged per combine task, as Dask's `split_every`. */
export const SPLIT_EVERY = 8;

/**
 * Adds a tree of combine tasks over `keys` to `nodes`, SPLIT_EVERY inputs
 * each (`combine` makes a task from the list of input references), keyed
 * `<prefix>:c<depth>.<i>`; returns the root's key (the only key, if one).
 */
export function combineTree(
  nodes: Record<string, Node>,
  prefix: string,
  keys: string[],
  combine: (inputs: Node[]) => Node,
): string {
  let level = keys;
  for (let depth = 0; level.length > 1; depth++) {
    const next: string[] = [];
    for (let i = 0; i < level.length; i += SPLIT_EVERY) {
      const key = `${prefix}:c${depth}.${i / SPLIT_EVERY}`;
      nodes[key] = combine(level.slice(i, i + SPLIT_EVERY).map(ref));
      next.push(key);
    }
    level = next;
  }
  return level[0];
}
