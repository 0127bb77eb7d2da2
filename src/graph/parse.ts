/**
 * Parsing turns the JSON form of a graph into `Node` trees, rejecting malformed
 * nodes with the key and the JSON path of the problem.
 *
 *   parseGraph({ x: 1, y: { $op: 'inc', args: [{ $ref: 'x' }] } })
 *   // Map { 'x' => lit 1, 'y' => task inc(ref x) }
 */
import { GraphError, jsonPath } from './errors.ts';
import { defaultLimits, type Graph, type GraphLimits, type Json, type KeySpec, type Node } from './types.ts';

const TASK_FIELDS = new Set(['$op', 'args', 'kwargs']);

export function parseGraph(raw: unknown, limits: GraphLimits = defaultLimits): Graph {
  if (!isPlainObject(raw)) {
    throw new GraphError('invalid_graph', `A graph must be a JSON object mapping keys to nodes, got ${describe(raw)}.`);
  }
  const graph: Graph = new Map();
  for (const key of Object.keys(raw)) {
    if (key.length > limits.maxKeyLength) {
      throw new GraphError('invalid_graph', `Key ${JSON.stringify(key.slice(0, 40))}... is ${key.length} characters long; keys may have at most ${limits.maxKeyLength}.`, { key: key.slice(0, 200) });
    }
    graph.set(key, parseNode((raw as Record<string, unknown>)[key], key, [], 0, limits));
  }
  if (graph.size === 0) throw new GraphError('invalid_graph', 'The graph is empty: give at least one key.');
  return graph;
}

/** Merges Dask-style layers (a high-level graph) into one graph. A key defined by two layers is an error. */
export function parseLayers(raw: unknown, limits: GraphLimits = defaultLimits): Graph {
  if (!isPlainObject(raw)) throw new GraphError('invalid_graph', `"layers" must be an object mapping layer names to graphs, got ${describe(raw)}.`);
  const merged: Graph = new Map();
  for (const name of Object.keys(raw)) {
    const layer = (raw as Record<string, unknown>)[name];
    if (!isPlainObject(layer)) throw new GraphError('invalid_graph', `Layer ${JSON.stringify(name)} must be an object mapping keys to nodes, got ${describe(layer)}.`, { layer: name });
    for (const [key, node] of parseGraphAllowEmpty(layer, limits)) {
      if (merged.has(key)) throw new GraphError('invalid_graph', `Key ${JSON.stringify(key)} is defined by more than one layer (again in ${JSON.stringify(name)}).`, { key, layer: name });
      merged.set(key, node);
    }
  }
  if (merged.size === 0) throw new GraphError('invalid_graph', 'The graph is empty: give at least one key.');
  return merged;
}

function parseGraphAllowEmpty(raw: Record<string, unknown>, limits: GraphLimits): Graph {
  return Object.keys(raw).length === 0 ? new Map() : parseGraph(raw, limits);
}

/** Validates `keys` of a request: a string, or arrays of strings nested at most 32 deep. */
export function parseKeys(raw: unknown, depth = 0): KeySpec {
  if (typeof raw === 'string') return raw;
  if (Array.isArray(raw) && depth < 32) return raw.map((item) => parseKeys(item, depth + 1));
  throw new GraphError('invalid_graph', `"keys" must be a key or an array of keys (nested arrays allowed, at most 32 deep), got ${describe(raw)}.`);
}

/** `depth` counts the arrays, objects and tasks around `raw` (a task's `args` is one level, not two). */
function parseNode(raw: unknown, key: string, path: (string | number)[], depth: number, limits: GraphLimits): Node {
  if (depth > limits.maxDepth) {
    throw new GraphError('invalid_graph', `Node nesting is deeper than ${limits.maxDepth} levels at ${jsonPath(key, path)}.`, { key, path: jsonPath(key, path) });
  }
  if (Array.isArray(raw)) {
    const items = raw.map((item, i) => parseNode(item, key, [...path, i], depth + 1, limits));
    return items.every((n) => n.kind === 'lit') ? lit(items.map((n) => (n as { value: Json }).value)) : { kind: 'array', items };
  }
  if (!isPlainObject(raw)) {
    if (raw === null || typeof raw === 'string' || typeof raw === 'boolean' || (typeof raw === 'number' && Number.isFinite(raw))) return lit(raw);
    throw bad(key, path, `is not a JSON value (${describe(raw)})`);
  }
  const obj = raw as Record<string, unknown>;
  const fields = Object.keys(obj);
  const marker = fields.find((f) => f.startsWith('$'));
  if (marker === undefined) {
    const entries: [string, Node][] = fields.map((f) => [f, parseNode(obj[f], key, [...path, f], depth + 1, limits)]);
    if (entries.every(([, n]) => n.kind === 'lit')) {
      return lit(Object.fromEntries(entries.map(([f, n]) => [f, (n as { value: Json }).value])));
    }
    return { kind: 'object', entries };
  }
  switch (marker) {
    case '$literal':
      onlyFields(obj, ['$literal'], key, path);
      return lit(obj.$literal as Json);
    case '$ref':
      onlyFields(obj, ['$ref'], key, path);
      if (typeof obj.$ref !== 'string') throw bad(key, [...path, '$ref'], `must be a key (a string), got ${describe(obj.$ref)}`);
      return { kind: 'ref', key: obj.$ref };
    case '$oid':
      onlyFields(obj, ['$oid'], key, path);
      if (typeof obj.$oid !== 'string' || obj.$oid.length === 0) throw bad(key, [...path, '$oid'], `must be an object id (a non-empty string), got ${describe(obj.$oid)}`);
      return { kind: 'oid', oid: obj.$oid };
    case '$op':
      return parseTask(obj, key, path, depth, limits);
    default:
      throw bad(key, path, `has the unknown marker ${JSON.stringify(marker)}; nodes use $op, $ref, $oid or $literal (wrap data whose keys start with "$" in {"$literal": ...})`);
  }
}

function parseTask(obj: Record<string, unknown>, key: string, path: (string | number)[], depth: number, limits: GraphLimits): Node {
  for (const f of Object.keys(obj)) {
    if (!TASK_FIELDS.has(f)) throw bad(key, [...path, f], `is not a task field; a task has "$op", "args" and "kwargs"`);
  }
  if (typeof obj.$op !== 'string' || obj.$op.length === 0) throw bad(key, [...path, '$op'], `must be an op name (a non-empty string), got ${describe(obj.$op)}`);
  const rawArgs = obj.args === undefined ? [] : obj.args;
  if (!Array.isArray(rawArgs)) throw bad(key, [...path, 'args'], `must be an array of nodes, got ${describe(rawArgs)}`);
  const args = rawArgs.map((a, i) => parseNode(a, key, [...path, 'args', i], depth + 1, limits));
  let kwargs: [string, Node][] | null = null;
  if (obj.kwargs !== undefined) {
    if (!isPlainObject(obj.kwargs)) throw bad(key, [...path, 'kwargs'], `must be an object of named nodes, got ${describe(obj.kwargs)}`);
    const kw = obj.kwargs as Record<string, unknown>;
    kwargs = Object.keys(kw).map((name) => [name, parseNode(kw[name], key, [...path, 'kwargs', name], depth + 1, limits)]);
  }
  return { kind: 'task', op: obj.$op, args, kwargs };
}

function onlyFields(obj: Record<string, unknown>, allowed: string[], key: string, path: (string | number)[]): void {
  for (const f of Object.keys(obj)) {
    if (!allowed.includes(f)) throw bad(key, [...path, f], `is not allowed next to ${allowed[0]}`);
  }
}

function lit(value: Json): Node {
  return { kind: 'lit', value };
}

function bad(key: string, path: (string | number)[], problem: string): GraphError {
  const where = jsonPath(key, path);
  return new GraphError('invalid_graph', `${where} ${problem}.`, { key, path: where });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v)}`;
  return `${typeof v} ${String(v)}`;
}
