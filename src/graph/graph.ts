/**
 * A parsed graph: keys to nodes in submission order, each key numbered by its
 * place (0, 1, ...). It reads like a Map<string, Node> (get, has, set, size,
 * iteration) and is one: the numbers are the table.
 *
 *   const g = Graph.from([['x', lit 1], ['y', task inc(ref x)]])
 *   g.get('y')       // task inc(ref x)
 *   g.numberOf('y')  // 1
 *
 * Why not a Map: planning numbers the keys anyway (deps.ts works on integers),
 * and for a million keys a second table of them cost as much as the first
 * (about 0.6 s each, measured), so the table parsing builds is the numbering
 * planning uses.
 */
import type { Node } from './types.ts';

/** Keys to numbers; undefined for a key not numbered (no prototype: "__proto__" is a key like any). */
export type KeyNumbers = Record<string, number | undefined>;

export class Graph implements Iterable<[string, Node]> {
  private readonly keyList: string[] = [];
  private readonly nodeList: Node[] = [];
  /**
   * A dictionary object without a prototype, not a Map: looking a key up in
   * it took about a third of the time of Map.get on a million keys
   * (measured), and planning looks up every reference twice.
   */
  private readonly numbers: KeyNumbers = Object.create(null);

  static from(entries: Iterable<readonly [string, Node]>): Graph {
    const graph = new Graph();
    for (const [key, node] of entries) graph.set(key, node);
    return graph;
  }

  get size(): number {
    return this.keyList.length;
  }

  get(key: string): Node | undefined {
    const n = this.numbers[key];
    return n === undefined ? undefined : this.nodeList[n];
  }

  has(key: string): boolean {
    return this.numbers[key] !== undefined;
  }

  /** A new key is numbered next; a key set again keeps its number and place, and takes the new node (as Map.set). */
  set(key: string, node: Node): this {
    const n = this.numbers[key];
    if (n !== undefined) this.nodeList[n] = node;
    else {
      this.numbers[key] = this.keyList.length;
      this.keyList.push(key);
      this.nodeList.push(node);
    }
    return this;
  }

  /** The number of `key`, undefined when it is not in the graph. */
  numberOf(key: string): number | undefined {
    return this.numbers[key];
  }

  keys(): IterableIterator<string> {
    return this.keyList.values();
  }

  values(): IterableIterator<Node> {
    return this.nodeList.values();
  }

  *entries(): IterableIterator<[string, Node]> {
    for (let n = 0; n < this.keyList.length; n++) yield [this.keyList[n], this.nodeList[n]];
  }

  [Symbol.iterator](): IterableIterator<[string, Node]> {
    return this.entries();
  }

  /**
   * The keys, their nodes and their numbers as they are, for the dependency
   * index (deps.ts), which reads them without copying. Read-only: the graph
   * owns them.
   */
  numbering(): { keys: readonly string[]; nodes: readonly Node[]; numberOf: Readonly<KeyNumbers> } {
    return { keys: this.keyList, nodes: this.nodeList, numberOf: this.numbers };
  }
}
