/**
 * Languages of tasks. A task runs either in the worker's own process (weft
 * ops, `$op`) or in an executor of another language (`$call`,
 * docs/executors.md), never both: one process cannot run a TypeScript op and
 * a Python function in one evaluation. This pass gives every `$call` its
 * language and moves a call nested inside a task of the other kind into a
 * task of its own, keyed `<key>/<path>`:
 *
 *   splitLanguages(parseGraph({ y: { $call: pyF, args: [{ $op: 'inc', args: [{ $ref: 'x' }] }] }, x: 1 }), new Map())
 *   // Graph { 'y' => $call pyF(ref 'y/args[0]'), 'x' => 1, 'y/args[0]' => inc(ref x) }
 *
 * Pure: the input graph is not changed; a graph without `$call` is returned as it is.
 */
import { Foreign } from '../shared/values/foreign.ts';
import { follow } from './deps.ts';
import { GraphError, jsonPath } from './errors.ts';
import { Graph } from './graph.ts';
import { FOREIGN_CALL, WEFT_LANGUAGE, type Node } from './types.ts';

type Task = Extract<Node, { kind: 'task' }>;

export function splitLanguages(graph: Graph, aliases: Map<string, string>): Graph {
  if (!hasForeignCall(graph)) return graph;
  const out = new Graph();
  const splitter = new Splitter(graph, aliases, out);
  for (const [key, node] of graph) out.set(key, splitter.top(key, node));
  return out;
}

/**
 * The language a task's node runs in: a foreign callable's language, `weft`
 * for weft ops, null for a structure of inputs and literals with no call
 * (it runs anywhere). After splitLanguages every call in a node has it.
 */
export function nodeLanguage(node: Node): string | null {
  switch (node.kind) {
    case 'task':
      return callLanguage(node);
    case 'array':
      return firstLanguage(node.items);
    case 'object':
      return firstLanguage(node.entries.map(([, v]) => v));
    case 'fused':
      return nodeLanguage(node.node);
    default:
      return null;
  }
}

/** The language of the first call among `nodes`, depth first. */
function firstLanguage(nodes: Node[]): string | null {
  for (const n of nodes) {
    const lang = nodeLanguage(n);
    if (lang !== null) return lang;
  }
  return null;
}

function callLanguage(task: Task): string {
  return task.fn ? (task.lang ?? FOREIGN_CALL) : WEFT_LANGUAGE;
}

/** Whether any node calls a foreign callable (`$call`), nested calls included. */
export function hasForeignCall(graph: Graph): boolean {
  for (const node of graph.values()) if (callsForeign(node)) return true;
  return false;
}

/** Whether a node calls a foreign callable. Its own walk, not forEachNode with a closure: it runs for every node of a graph when it is planned. */
function callsForeign(node: Node): boolean {
  switch (node.kind) {
    case 'task':
      if (node.fn) return true;
      for (let i = 0; i < node.args.length; i++) if (callsForeign(node.args[i])) return true;
      if (node.kwargs) for (const [, v] of node.kwargs) if (callsForeign(v)) return true;
      return false;
    case 'array':
      for (let i = 0; i < node.items.length; i++) if (callsForeign(node.items[i])) return true;
      return false;
    case 'object':
      for (const [, v] of node.entries) if (callsForeign(v)) return true;
      return false;
    case 'fused':
      return callsForeign(node.node);
    default:
      return false;
  }
}

class Splitter {
  constructor(
    private readonly graph: Graph,
    private readonly aliases: Map<string, string>,
    private readonly out: Graph,
  ) {}

  /** A top-level node in the language of its first call, with calls of any other language moved out. */
  top(key: string, node: Node): Node {
    const resolved = this.resolve(key, node, []);
    const lang = nodeLanguage(resolved);
    return lang === null ? resolved : this.split(key, resolved, lang, []);
  }

  /** Gives every `$call` whose callable is a reference the language of the foreign value it refers to. */
  private resolve(key: string, node: Node, path: (string | number)[]): Node {
    if (node.kind === 'task') {
      const inner = this.mapChildren(node, path, (child, at) => this.resolve(key, child, at));
      if (!inner.fn || inner.lang) return inner;
      return { ...inner, lang: this.languageOfCallable(key, inner.fn, [...path, '$call']) };
    }
    if (node.kind === 'array' || node.kind === 'object') {
      return this.mapStructure(node, path, (child, at) => this.resolve(key, child, at));
    }
    return node;
  }

  private languageOfCallable(key: string, fn: Node, path: (string | number)[]): string {
    const target = fn.kind === 'ref' ? this.graph.get(follow(this.aliases, fn.key)) : undefined;
    if (target?.kind === 'lit' && target.value instanceof Foreign) return target.value.lang;
    const where = jsonPath(key, path);
    throw new GraphError(
      'invalid_graph',
      `${where} refers to ${JSON.stringify(fn.kind === 'ref' ? fn.key : '')}, which is not a foreign value: the callable of a $call is a {"$foreign": ...} value or a reference to a data key holding one.`,
      { key, path: where },
    );
  }

  /** `node` (a call or structure inside a task of language `lang`) with calls of other languages moved to keys of their own. */
  private split(key: string, node: Node, lang: string, path: (string | number)[]): Node {
    if (node.kind === 'task') {
      if (path.length > 0 && callLanguage(node) !== lang) return this.moveOut(key, node, path);
      return this.mapChildren(node, path, (child, at) => this.split(key, child, lang, at));
    }
    if (node.kind === 'array' || node.kind === 'object') {
      return this.mapStructure(node, path, (child, at) => this.split(key, child, lang, at));
    }
    return node;
  }

  private moveOut(key: string, node: Task, path: (string | number)[]): Node {
    const base = `${key}/${jsonPath('', path).slice('$[""]'.length).replace(/^\./, '')}`;
    let name = base;
    for (let n = 2; this.graph.has(name) || this.out.has(name); n++) name = `${base}#${n}`;
    this.out.set(name, this.top(name, node));
    return { kind: 'ref', key: name };
  }

  private mapChildren(node: Task, path: (string | number)[], fn: (n: Node, at: (string | number)[]) => Node): Task {
    return {
      ...node,
      ...(node.fn ? { fn: fn(node.fn, [...path, '$call']) } : {}),
      args: node.args.map((a, i) => fn(a, [...path, 'args', i])),
      kwargs: node.kwargs ? node.kwargs.map(([name, v]) => [name, fn(v, [...path, 'kwargs', name])]) : null,
    };
  }

  private mapStructure(
    node: Extract<Node, { kind: 'array' | 'object' }>,
    path: (string | number)[],
    fn: (n: Node, at: (string | number)[]) => Node,
  ): Node {
    if (node.kind === 'array') return { kind: 'array', items: node.items.map((item, i) => fn(item, [...path, i])) };
    return { kind: 'object', entries: node.entries.map(([name, v]) => [name, fn(v, [...path, name])]) };
  }
}
