/**
 * A graph sent as MessagePack, read one entry at a time: what graph-text.ts
 * does for JSON. Read whole, a request body makes its `graph` one object of
 * a million keys (V8 keeps such an object as a hash table: every key is
 * hashed into it, then listed in order and looked up again by parseGraph).
 * Here the body's top-level map and its `graph` map are read entry by entry
 * (the values as decodeValue reads them), and `graph`'s keys and values are
 * kept in a list for parsePackedGraph. Measured on the million-task graph
 * (48 MB): 0.7 s to read its entries, against 2.0 to 2.5 s to read the body
 * whole and walk its keys.
 *
 * Only a body that is a map with string keys, whose `graph` is a map with
 * string keys, is split; anything else gives null and is read whole, so a
 * client sees the same errors either way. The caller has checked that the
 * bytes hold no "__proto__", which msgpackr renames (shared/codec.ts).
 */
import { decodeEach } from '../shared/codec.ts';
import { GraphBuilder } from './parse.ts';
import type { Graph } from './graph.ts';
import { defaultLimits, type GraphLimits } from './types.ts';

/** The entries of a request's `graph` as sent: key, value, key, value, in the order of the bytes. */
export class PackedGraph {
  constructor(readonly entries: unknown[]) {}
}

/**
 * A graph request's body read from MessagePack with its `graph` left as a
 * PackedGraph, or null when the body is not one this split reads (the caller
 * then reads it whole).
 */
export function splitPackedBody(bytes: Uint8Array): Record<string, unknown> | null {
  try {
    const outer = mapHeader(bytes, 0);
    if (outer === null) return null;
    const body: Record<string, unknown> = {};
    let graph: PackedGraph | null = null;
    let at = outer.start;
    for (let i = 0; i < outer.count; i++) {
      const key = readOne(bytes, at);
      if (typeof key.value !== 'string') return null;
      at = key.end;
      if (key.value === 'graph') {
        // The last `graph` wins, as when the body is read whole.
        const read = readGraph(bytes, at);
        if (read === null) return null;
        graph = read.graph;
        at = read.end;
      } else {
        const value = readOne(bytes, at);
        body[key.value] = value.value;
        at = value.end;
      }
    }
    // Bytes after the body: reading it whole says what is wrong.
    if (at !== bytes.length || graph === null) return null;
    body.graph = graph;
    return body;
  } catch {
    return null;
  }
}

/** The graph of a PackedGraph, its values parsed one key at a time, each let go once its node is made. */
export function parsePackedGraph(graph: PackedGraph, limits: GraphLimits = defaultLimits): Graph {
  const { entries } = graph;
  const builder = new GraphBuilder(limits, entries.length / 2);
  for (let i = 0; i < entries.length; i += 2) {
    builder.add(entries[i] as string, entries[i + 1]);
    entries[i + 1] = undefined;
  }
  return builder.graph();
}

/** The map whose header is at `at`: its entry count and where its first key starts; null when it is not a map. */
function mapHeader(bytes: Uint8Array, at: number): { count: number; start: number } | null {
  const b = bytes[at];
  if (b >= 0x80 && b <= 0x8f) return { count: b & 0x0f, start: at + 1 };
  if (b === 0xde && at + 3 <= bytes.length) return { count: (bytes[at + 1] << 8) | bytes[at + 2], start: at + 3 };
  if (b === 0xdf && at + 5 <= bytes.length) {
    const count = bytes[at + 1] * 2 ** 24 + ((bytes[at + 2] << 16) | (bytes[at + 3] << 8) | bytes[at + 4]);
    return { count, start: at + 5 };
  }
  return null;
}

/** The value at `at` and the index just past it. */
function readOne(bytes: Uint8Array, at: number): { value: unknown; end: number } {
  const read = { value: undefined as unknown, end: -1 };
  decodeEach(bytes, at, (value, end) => {
    read.value = value;
    read.end = end;
    return false;
  });
  if (read.end < 0) throw new Error('no value');
  return read;
}

/** The `graph` map at `at` as a PackedGraph, and the index just past it; null when it is not a map of string keys. */
function readGraph(bytes: Uint8Array, at: number): { graph: PackedGraph; end: number } | null {
  const header = mapHeader(bytes, at);
  if (header === null) return null;
  const entries: unknown[] = new Array(2 * header.count);
  let n = 0;
  let end = header.start;
  if (entries.length > 0) {
    decodeEach(bytes, header.start, (value, after) => {
      if (n % 2 === 0 && typeof value !== 'string') return false;
      entries[n++] = value;
      end = after;
      return n < entries.length;
    });
  }
  return n === entries.length ? { graph: new PackedGraph(entries), end } : null;
}
