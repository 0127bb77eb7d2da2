/**
 * A parsed graph: keys to nodes in submission order, each key numbered by its
 * place (0, 1, ...). It reads like a Map<string, Node> (get, has, set, size,
 * iteration); its table of keys is a KeyTable, and that numbering is the one
 * planning works with (the dependency index in deps.ts reads it as it is).
 *
 *   const g = Graph.from([['x', lit 1], ['y', task inc(ref x)]])
 *   g.get('y')                          // task inc(ref x)
 *   g.numbering().table.numberOf('y')   // 1
 *
 * Why not a Map: planning numbers the keys anyway, and for a million keys a
 * second table of them, made by planning after parsing made the Map, cost
 * about as much as the first (about 0.6 s each, measured).
 */
import type { Node } from './types.ts';

/**
 * Keys numbered 0, 1, ... in the order they are added, found by an
 * open-addressing table of numbers over the key list. Not a Map nor a
 * dictionary object: both hold the key strings a second time in a hash table
 * that grows by rehashing, and a dictionary object also enters every key in
 * V8's table of internalized strings. For the million keys of a big graph,
 * setting them took about 1.2 s of API time in a profile.
 */
export class KeyTable {
  readonly keys: string[] = [];
  /** key number + 1 at the slot of its hash (0: empty); a power of two in length, at most half full. */
  private slots: Int32Array;
  private mask: number;

  /** `expected`: keys to make room for at once (the table grows beyond it as needed). */
  constructor(expected = 0) {
    let size = 16;
    while (size < 2 * expected) size *= 2;
    this.slots = new Int32Array(size);
    this.mask = size - 1;
  }

  get size(): number {
    return this.keys.length;
  }

  /** The number of `key`, -1 when it is not in the table. */
  numberOf(key: string): number {
    const { slots, mask, keys } = this;
    for (let at = hashKey(key) & mask; ; at = (at + 1) & mask) {
      const n = slots[at] - 1;
      if (n < 0 || keys[n] === key) return n;
    }
  }

  /** The number of `key`, given the next one when it is new. */
  add(key: string): number {
    if (2 * (this.keys.length + 1) > this.slots.length) this.grow();
    const { slots, mask, keys } = this;
    for (let at = hashKey(key) & mask; ; at = (at + 1) & mask) {
      const n = slots[at] - 1;
      if (n >= 0 && keys[n] !== key) continue;
      if (n >= 0) return n;
      slots[at] = keys.length + 1;
      keys.push(key);
      return keys.length - 1;
    }
  }

  private grow(): void {
    const slots = new Int32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    for (let n = 0; n < this.keys.length; n++) {
      let at = hashKey(this.keys[n]) & mask;
      while (slots[at] !== 0) at = (at + 1) & mask;
      slots[at] = n + 1;
    }
    this.slots = slots;
    this.mask = mask;
  }
}

/**
 * Where FNV-1a starts, drawn once per process: keys are the client's, and
 * with a hash anyone could compute, a graph of keys sent to one slot would
 * make every lookup walk them all (V8 seeds its own string hash for the same
 * reason).
 */
const HASH_SEED = crypto.getRandomValues(new Uint32Array(1))[0];

/** FNV-1a over the key's UTF-16 units from a secret start, its bits mixed (the table indexes by the low ones). */
function hashKey(key: string): number {
  let h = 0x811c9dc5 ^ HASH_SEED;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  return (h ^ (h >>> 13)) >>> 0;
}

export class Graph implements Iterable<[string, Node]> {
  private readonly table: KeyTable;
  private readonly nodeList: Node[] = [];

  /** `expected`: keys to make room for at once. */
  constructor(expected = 0) {
    this.table = new KeyTable(expected);
  }

  static from(entries: Iterable<readonly [string, Node]>): Graph {
    const graph = new Graph();
    for (const [key, node] of entries) graph.set(key, node);
    return graph;
  }

  get size(): number {
    return this.nodeList.length;
  }

  get(key: string): Node | undefined {
    const n = this.table.numberOf(key);
    return n < 0 ? undefined : this.nodeList[n];
  }

  has(key: string): boolean {
    return this.table.numberOf(key) >= 0;
  }

  /** A new key is numbered next; a key set again keeps its number and place, and takes the new node (as Map.set). */
  set(key: string, node: Node): this {
    const n = this.table.add(key);
    this.nodeList[n] = node;
    return this;
  }

  keys(): IterableIterator<string> {
    return this.table.keys.values();
  }

  values(): IterableIterator<Node> {
    return this.nodeList.values();
  }

  *entries(): IterableIterator<[string, Node]> {
    const { keys } = this.table;
    for (let n = 0; n < keys.length; n++) yield [keys[n], this.nodeList[n]];
  }

  [Symbol.iterator](): IterableIterator<[string, Node]> {
    return this.entries();
  }

  /**
   * The numbered keys and their nodes as they are, for the dependency index
   * (deps.ts), which reads them without copying. Read-only: the graph owns them.
   */
  numbering(): { table: KeyTable; nodes: readonly Node[] } {
    return { table: this.table, nodes: this.nodeList };
  }
}
