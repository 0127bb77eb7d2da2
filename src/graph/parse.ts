/**
 * Parsing turns the JSON form of a graph into `Node` trees, rejecting malformed
 * nodes with the key and the JSON path of the problem.
 *
 *   parseGraph({ x: 1, y: { $op: 'inc', args: [{ $ref: 'x' }] } })
 *   // Graph { 'x' => lit 1, 'y' => task inc(ref x) }
 */
import { checkedForeign, Foreign, ForeignFormatError } from '../shared/values/foreign.ts';
import { GraphError, jsonPath } from './errors.ts';
import { Graph } from './graph.ts';
import {
  defaultLimits,
  FOREIGN_CALL,
  MAX_PRIORITY,
  MAX_RETURNS,
  MIN_PRIORITY,
  POOL_NAME,
  type GraphLimits,
  type Json,
  type KeySpec,
  type Node,
  type Opaque,
  type TaskOptions,
} from './types.ts';

const TASK_FIELDS = new Set(['args', 'kwargs', 'returns', 'options']);
/** Most retries a task may ask for. */
export const MAX_RETRIES = 100;
/** The longest timeout a task may ask for: Node's timers hold at most 2^31 - 1 ms (a longer one fires at once). */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export function parseGraph(raw: unknown, limits: GraphLimits = defaultLimits): Graph {
  if (!isPlainObject(raw)) {
    throw new GraphError('invalid_graph', `A graph must be a JSON object mapping keys to nodes, got ${describe(raw)}.`);
  }
  const keys = Object.keys(raw);
  const builder = new GraphBuilder(limits, keys.length);
  for (const key of keys) builder.add(key, raw[key]);
  return builder.graph();
}

/**
 * A graph built one key at a time, each key's value parsed as it comes: what
 * parseGraph does for a parsed object, and parseGraphText (graph-text.ts) for
 * a graph still in its JSON text, whose values are parsed one by one so that
 * the sent form of a big graph never exists whole. A key given twice keeps
 * its first place and its last value, as JSON.parse does.
 */
export class GraphBuilder {
  private readonly nodes: Graph;
  private readonly parser: NodeParser;

  /** `expected`: the keys to make room for at once (more may come). */
  constructor(
    private readonly limits: GraphLimits = defaultLimits,
    expected = 0,
  ) {
    this.parser = new NodeParser(limits);
    this.nodes = new Graph(expected);
  }

  add(key: string, raw: unknown): void {
    checkKey(key, this.limits);
    this.nodes.set(key, this.parser.parse(key, raw));
  }

  /** Adds a node made elsewhere from what `add` would have parsed into it (graph-text.ts reads some straight from the text). */
  addNode(key: string, node: Node): void {
    checkKey(key, this.limits);
    this.nodes.set(key, node);
  }

  /** The keys added so far, in order: a live list, which grows as keys are added. */
  keyList(): readonly string[] {
    return this.nodes.numbering().table.keys;
  }

  /** The graph; it may not be empty. */
  graph(): Graph {
    if (this.nodes.size === 0) throw new GraphError('invalid_graph', 'The graph is empty: give at least one key.');
    return this.nodes;
  }
}

/** Merges Dask-style layers (a high-level graph) into one graph. A key defined by two layers is an error. */
export function parseLayers(raw: unknown, limits: GraphLimits = defaultLimits): Graph {
  if (!isPlainObject(raw))
    throw new GraphError(
      'invalid_graph',
      `"layers" must be an object mapping layer names to graphs, got ${describe(raw)}.`,
    );
  const merged = new Graph();
  for (const name of Object.keys(raw)) {
    const layer = (raw as Record<string, unknown>)[name];
    if (!isPlainObject(layer))
      throw new GraphError(
        'invalid_graph',
        `Layer ${JSON.stringify(name)} must be an object mapping keys to nodes, got ${describe(layer)}.`,
        { layer: name },
      );
    for (const [key, node] of parseGraphAllowEmpty(layer, limits)) {
      if (merged.has(key))
        throw new GraphError(
          'invalid_graph',
          `Key ${JSON.stringify(key)} is defined by more than one layer (again in ${JSON.stringify(name)}).`,
          { key, layer: name },
        );
      merged.set(key, node);
    }
  }
  if (merged.size === 0) throw new GraphError('invalid_graph', 'The graph is empty: give at least one key.');
  return merged;
}

function parseGraphAllowEmpty(raw: Record<string, unknown>, limits: GraphLimits): Graph {
  return Object.keys(raw).length === 0 ? new Graph() : parseGraph(raw, limits);
}

/** Characters of a key shown in errors about it. */
const KEY_PREFIX = 64;
/** With the u flag a surrogate pair is one code point, so only a lone surrogate matches. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Keys are stored and sent as UTF-8 (events, object metadata), so one must
 * be well-formed unicode: a lone surrogate would come back as U+FFFD.
 */
function checkKey(key: string, limits: GraphLimits): void {
  // Three bytes at most per UTF-16 unit: short keys need no count.
  const bytes = key.length * 3 <= limits.maxKeyBytes ? 0 : utf8Length(key);
  if (bytes > limits.maxKeyBytes) {
    const prefix = key.slice(0, KEY_PREFIX);
    throw new GraphError(
      'key_too_long',
      `Key ${JSON.stringify(prefix)}... is ${bytes} bytes long (UTF-8); keys may have at most ${limits.maxKeyBytes} bytes (WEFT_MAX_KEY_BYTES). Use shorter keys, such as a hash of the long name.`,
      { key: prefix, bytes, limit: limits.maxKeyBytes },
    );
  }
  if (LONE_SURROGATE.test(key)) {
    throw new GraphError(
      'invalid_graph',
      `Key ${JSON.stringify(key.slice(0, KEY_PREFIX))} is not well-formed unicode (it holds a lone UTF-16 surrogate), so it cannot be stored as UTF-8; use valid unicode text.`,
      { key: key.slice(0, KEY_PREFIX) },
    );
  }
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Validates `keys` of a request: a string, or arrays of strings nested at most 32 deep. */
export function parseKeys(raw: unknown, depth = 0): KeySpec {
  if (typeof raw === 'string') return raw;
  if (Array.isArray(raw) && depth < 32) return raw.map((item) => parseKeys(item, depth + 1));
  throw new GraphError(
    'invalid_graph',
    `"keys" must be a key or an array of keys (nested arrays allowed, at most 32 deep), got ${describe(raw)}.`,
  );
}

/**
 * Parses the nodes of a graph, one key at a time. The JSON path is one stack
 * pushed and popped as the walk goes, copied only into an error: a graph of a
 * million nodes must not allocate a path array (or a parser) per node.
 */
class NodeParser {
  private readonly path: (string | number)[] = [];
  private key = '';

  constructor(private readonly limits: GraphLimits) {}

  /** The node of `key`. */
  parse(key: string, raw: unknown): Node {
    this.key = key;
    this.path.length = 0;
    return this.node(raw, 0);
  }

  /** `depth` counts the arrays, objects and tasks around `raw` (a task's `args` is one level, not two). */
  node(raw: unknown, depth: number): Node {
    if (depth > this.limits.maxDepth) {
      const where = jsonPath(this.key, this.path);
      throw new GraphError('invalid_graph', `Node nesting is deeper than ${this.limits.maxDepth} levels at ${where}.`, {
        key: this.key,
        path: where,
      });
    }
    if (Array.isArray(raw)) {
      const items = this.each(raw, depth + 1);
      return items.every((n) => n.kind === 'lit')
        ? lit(items.map((n) => (n as { value: Json }).value))
        : { kind: 'array', items };
    }
    if (!isPlainObject(raw)) {
      if (
        raw === null ||
        typeof raw === 'string' ||
        typeof raw === 'boolean' ||
        (typeof raw === 'number' && Number.isFinite(raw))
      )
        return lit(raw);
      // JSON has no NaN, Infinity or integers past 2^53; a MessagePack request may (Python's float('nan'), 2**63 - 1).
      if (this.limits.binary && (typeof raw === 'number' || typeof raw === 'bigint'))
        return lit(raw as unknown as Json);
      // Bytes, array chunks, partitions and foreign values of a MessagePack request: data, never walked.
      if (isOpaque(raw)) return lit(raw as Opaque);
      throw this.bad(null, `is not a JSON value (${describe(raw)})`);
    }
    const fields = Object.keys(raw);
    const marker = markerOf(fields);
    if (marker === undefined) {
      const entries = this.fields(raw, fields, depth + 1);
      if (entries.every(([, n]) => n.kind === 'lit')) {
        return lit(Object.fromEntries(entries.map(([f, n]) => [f, (n as { value: Json }).value])));
      }
      return { kind: 'object', entries };
    }
    switch (marker) {
      case '$literal':
        this.onlyFields(fields, '$literal');
        this.path.push('$literal');
        this.checkLiteralDepth(raw.$literal, depth + 1);
        this.path.pop();
        return lit(raw.$literal as Json);
      case '$ref': {
        this.onlyFields(fields, '$ref', 'index');
        if (typeof raw.$ref !== 'string') throw this.bad('$ref', `must be a key (a string), got ${describe(raw.$ref)}`);
        if (raw.index === undefined) return { kind: 'ref', key: raw.$ref };
        if (!Number.isInteger(raw.index) || (raw.index as number) < 0)
          throw this.bad('index', `must be the number of an output (an integer from 0), got ${describe(raw.index)}`);
        return { kind: 'ref', key: raw.$ref, index: raw.index as number };
      }
      case '$oid':
        this.onlyFields(fields, '$oid');
        if (typeof raw.$oid !== 'string' || raw.$oid.length === 0)
          throw this.bad('$oid', `must be an object id (a non-empty string), got ${describe(raw.$oid)}`);
        return { kind: 'oid', oid: raw.$oid };
      case '$op':
      case '$call':
        return this.task(raw, fields, depth);
      case '$foreign':
        this.onlyFields(fields, '$foreign');
        return lit(this.foreign(raw.$foreign) as Opaque);
      default:
        throw this.bad(
          null,
          `has the unknown marker ${JSON.stringify(marker)}; nodes use $op, $call, $ref, $oid, $foreign or $literal (wrap data whose keys start with "$" in {"$literal": ...})`,
        );
    }
  }

  private task(raw: Record<string, unknown>, fields: string[], depth: number): Node {
    const call = '$call' in raw ? '$call' : '$op';
    for (const f of fields) {
      if (f !== call && !TASK_FIELDS.has(f))
        throw this.bad(f, `is not a task field; a task has "${call}", "args", "kwargs", "returns" and "options"`);
    }
    const task: Node & { kind: 'task' } =
      call === '$call'
        ? this.foreignCall(raw.$call, depth)
        : { kind: 'task', op: this.opName(raw.$op), args: NO_ARGS, kwargs: null };
    let args: Node[];
    if (raw.args === undefined) args = [];
    else {
      if (!Array.isArray(raw.args)) throw this.bad('args', `must be an array of nodes, got ${describe(raw.args)}`);
      this.path.push('args');
      args = this.each(raw.args, depth + 1);
      this.path.pop();
    }
    let kwargs: [string, Node][] | null = null;
    if (raw.kwargs !== undefined) {
      if (!isPlainObject(raw.kwargs))
        throw this.bad('kwargs', `must be an object of named nodes, got ${describe(raw.kwargs)}`);
      this.path.push('kwargs');
      kwargs = this.fields(raw.kwargs, Object.keys(raw.kwargs), depth + 1);
      this.path.pop();
    }
    task.args = args;
    task.kwargs = kwargs;
    if (raw.options !== undefined) task.options = this.taskOptions(raw.options);
    if (raw.returns === undefined) return task;
    if (this.path.length > 0)
      throw this.bad(
        'returns',
        'is only allowed on a task at the top of a key (a nested task returns one value to its caller)',
      );
    if (!Number.isInteger(raw.returns) || (raw.returns as number) < 1 || (raw.returns as number) > MAX_RETURNS) {
      throw this.bad(
        'returns',
        `must be the number of values the op returns, an integer from 1 to ${MAX_RETURNS}, got ${describe(raw.returns)}`,
      );
    }
    task.returns = raw.returns as number;
    return task;
  }

  private opName(raw: unknown): string {
    if (typeof raw !== 'string' || raw.length === 0)
      throw this.bad('$op', `must be an op name (a non-empty string), got ${describe(raw)}`);
    return raw;
  }

  /**
   * The callable of a `$call`: a foreign value (its language is then known),
   * or a reference to a data key holding one (followed when the graph is planned).
   */
  private foreignCall(raw: unknown, depth: number): Node & { kind: 'task' } {
    this.path.push('$call');
    const fn = this.node(raw, depth + 1);
    this.path.pop();
    const task: Node & { kind: 'task' } = { kind: 'task', op: FOREIGN_CALL, fn, args: NO_ARGS, kwargs: null };
    if (fn.kind === 'lit' && fn.value instanceof Foreign) task.lang = fn.value.lang;
    else if (fn.kind !== 'ref' || fn.index !== undefined) {
      throw this.bad(
        '$call',
        'must be a foreign value ({"$foreign": {"lang", "name", "data"}}) or a {"$ref"} to a data key holding one',
      );
    }
    return task;
  }

  /** {"$foreign": {"lang": "python", "name": "...", "data": base64}}, or the same fields with bytes from MessagePack. */
  private foreign(raw: unknown): Foreign {
    if (raw instanceof Foreign) return raw;
    if (!isPlainObject(raw)) throw this.bad('$foreign', `must be {"lang", "name", "data"}, got ${describe(raw)}`);
    for (const f of Object.keys(raw)) {
      if (f !== 'lang' && f !== 'name' && f !== 'data')
        throw this.bad('$foreign', `has the unknown field ${JSON.stringify(f)}`);
    }
    try {
      return checkedForeign(raw.lang, raw.name ?? '', raw.data);
    } catch (err) {
      if (err instanceof ForeignFormatError) throw this.bad('$foreign', err.message);
      throw err;
    }
  }

  /** A task's "options": {"retries": n, "timeout_ms": ms, "pool": name, "priority": p} (Dask's per-layer annotations, per task). */
  private taskOptions(raw: unknown): TaskOptions {
    if (this.path.length > 0)
      throw this.bad('options', 'is only allowed on a task at the top of a key (a nested task runs inside its caller)');
    if (!isPlainObject(raw))
      throw this.bad('options', `must be an object such as {"retries": 2, "timeout_ms": 5000}, got ${describe(raw)}`);
    const out: TaskOptions = {};
    for (const [name, v] of Object.entries(raw)) {
      if (name === 'retries') {
        if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > MAX_RETRIES)
          throw this.bad('options', `"retries" must be an integer from 0 to ${MAX_RETRIES}, got ${describe(v)}`);
        out.retries = v as number;
      } else if (name === 'timeout_ms') {
        if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > MAX_TIMEOUT_MS)
          throw this.bad(
            'options',
            `"timeout_ms" must be an integer from 1 to ${MAX_TIMEOUT_MS} (milliseconds, about 24.8 days), got ${describe(v)}`,
          );
        out.timeoutMs = v as number;
      } else if (name === 'pool') {
        if (typeof v !== 'string' || !POOL_NAME.test(v))
          throw this.bad(
            'options',
            `"pool" must be a pool name (1 to 64 letters, digits, "_", "." or "-"), got ${describe(v)}`,
          );
        out.pool = v;
      } else if (name === 'priority') {
        if (!Number.isInteger(v) || (v as number) < MIN_PRIORITY || (v as number) > MAX_PRIORITY)
          throw this.bad(
            'options',
            `"priority" must be an integer from ${MIN_PRIORITY} to ${MAX_PRIORITY} (higher runs first), got ${describe(v)}`,
          );
        out.priority = v as number;
      } else {
        throw this.bad(
          'options',
          `has the unknown task option ${JSON.stringify(name)}; a task's options are "retries", "timeout_ms", "pool" and "priority"`,
        );
      }
    }
    return out;
  }

  /**
   * Literal data is not parsed, but it is stored and sent like any value, and
   * encoders recurse: deeper than the limit it is rejected here, not by a
   * stack overflow later. Recursion stops at the limit.
   */
  private checkLiteralDepth(raw: unknown, depth: number): void {
    if (typeof raw !== 'object' || raw === null || isOpaque(raw)) return;
    if (depth > this.limits.maxDepth) {
      const where = jsonPath(this.key, this.path);
      throw new GraphError(
        'invalid_graph',
        `Node nesting is deeper than ${this.limits.maxDepth} levels inside the literal at ${where}.`,
        { key: this.key, path: where },
      );
    }
    if (Array.isArray(raw)) {
      for (const item of raw) this.checkLiteralDepth(item, depth + 1);
    } else {
      for (const value of Object.values(raw)) this.checkLiteralDepth(value, depth + 1);
    }
  }

  private each(raw: unknown[], depth: number): Node[] {
    const out = new Array<Node>(raw.length);
    for (let i = 0; i < raw.length; i++) {
      this.path.push(i);
      out[i] = this.node(raw[i], depth);
      this.path.pop();
    }
    return out;
  }

  private fields(raw: Record<string, unknown>, names: string[], depth: number): [string, Node][] {
    return names.map((name) => {
      this.path.push(name);
      const node = this.node(raw[name], depth);
      this.path.pop();
      return [name, node];
    });
  }

  /** The node has no field but `marker` and `allowed`. (One optional field, not a rest array: it runs per reference.) */
  private onlyFields(fields: string[], marker: string, allowed?: string): void {
    for (const f of fields) if (f !== marker && f !== allowed) throw this.bad(f, `is not allowed next to ${marker}`);
  }

  /** An invalid_graph error at the current path, or at its child `field`. */
  private bad(field: string | null, problem: string): GraphError {
    const where = jsonPath(this.key, field === null ? this.path : [...this.path, field]);
    return new GraphError('invalid_graph', `${where} ${problem}.`, { key: this.key, path: where });
  }
}

/** A task's args until they are parsed (task() always sets its own): no array per task made only to be replaced. */
const NO_ARGS: Node[] = [];

/** The first field that starts with "$", if any. */
function markerOf(fields: string[]): string | undefined {
  for (const f of fields) if (f.charCodeAt(0) === 36) return f;
  return undefined;
}

function lit(value: Json): Node {
  return { kind: 'lit', value };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** An instance of a value class (bytes, typed arrays, weft's value types), as a MessagePack request decodes them. */
function isOpaque(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !isPlainObject(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v)}`;
  return `${typeof v} ${String(v)}`;
}
