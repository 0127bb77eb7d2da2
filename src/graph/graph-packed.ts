/**
 * A graph sent as MessagePack, read one entry at a time: what graph-text.ts
 * does for JSON. Read whole, a request body makes its `graph` one object of
 * a million keys (V8 keeps such an object as a hash table: every key is
 * hashed into it, then listed in order and looked up again by parseGraph),
 * and millions of objects under it, all alive at once. Here the body's
 * top-level map is read entry by entry, `graph`'s entries are only measured
 * (their lengths from their headers: 46 ms for the million-task graph's
 * 48 MB), and parsePackedGraph decodes them a batch at a time, each value
 * made into its node at once. In a harness, the million-task graph registered
 * in 6.9 s as MessagePack before, about 3.7 s with this (docs/benchmarks.md,
 * issue 20, session 13).
 *
 * Only a body that is a map with string keys, whose `graph` is a map with
 * string keys and well-formed values, is split; anything else gives null and
 * is read whole, so a client sees the same errors either way (save a value
 * whose extension payload msgpackr refuses: parsePackedGraph names its key).
 * The caller has checked that the bytes hold no "__proto__", which msgpackr
 * renames (shared/codec.ts).
 */
import { decodeEach } from '../shared/codec.ts';
import { FOREIGN_EXTENSION_TYPE } from '../shared/values/foreign.ts';
import { FRAME_EXTENSION_TYPE } from '../shared/values/frame.ts';
import { NDARRAY_EXTENSION_TYPE } from '../shared/values/ndarray.ts';
import { GraphError, jsonPath } from './errors.ts';
import { GraphBuilder } from './parse.ts';
import type { Graph } from './graph.ts';
import { defaultLimits, type GraphLimits } from './types.ts';

/**
 * A request's `graph` as sent: the body's bytes, and where each batch of
 * BATCH entries starts (and the last ends), decoded a batch at a time by
 * parsePackedGraph.
 */
export class PackedGraph {
  constructor(
    readonly bytes: Uint8Array,
    readonly bounds: number[],
    readonly count: number,
  ) {}
}

/** Entries decoded together when the graph is parsed: their values die young, each batch parsed at once. */
const BATCH = 1024;

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

/**
 * The graph of a PackedGraph, its entries decoded a batch at a time and each
 * value parsed at once, so it dies young: decoded all together when the body
 * was read, the million entries all lived until parsed and were copied out of
 * V8's young generation (1.0 s of collection; 0.35 to 0.45 s less in all this
 * way). The split checked the entries' lengths and types, not their
 * contents: a value msgpackr cannot read (an extension whose payload is not
 * what its type says) is an invalid graph, named by its key.
 */
export function parsePackedGraph(graph: PackedGraph, limits: GraphLimits = defaultLimits): Graph {
  const { bytes, bounds, count } = graph;
  const builder = new GraphBuilder(limits, count);
  const batch: unknown[] = [];
  for (let b = 0; b + 1 < bounds.length; b++) {
    batch.length = 0;
    try {
      decodeEach(bytes.subarray(0, bounds[b + 1]), bounds[b], (value) => batch.push(value) > 0);
    } catch (err) {
      const key = batch.length % 2 === 1 ? (batch[batch.length - 1] as string) : undefined;
      throw new GraphError(
        'invalid_graph',
        `${key === undefined ? 'A key of the graph' : jsonPath(key, [])} is not MessagePack weft reads: ${(err as Error).message}.`,
        key === undefined ? {} : { key },
      );
    }
    for (let i = 0; i + 1 < batch.length; i += 2) builder.add(batch[i] as string, batch[i + 1]);
  }
  return builder.graph();
}

/** The map whose header is at `at`: its entry count and where its first key starts; null when it is not a map. */
function mapHeader(bytes: Uint8Array, at: number): { count: number; start: number } | null {
  const b = bytes[at];
  if (b >= 0x80 && b <= 0x8f) return { count: b & 0x0f, start: at + 1 };
  if (b === 0xde && at + 3 <= bytes.length) return { count: u16(bytes, at + 1), start: at + 3 };
  if (b === 0xdf && at + 5 <= bytes.length) return { count: u32(bytes, at + 1), start: at + 5 };
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
  const bounds = [header.start];
  let i = header.start;
  for (let n = 1; n <= header.count; n++) {
    const t = bytes[i];
    // A key that is not a string: read whole, as msgpackr names it.
    if (!((t >= 0xa0 && t <= 0xbf) || (t >= 0xd9 && t <= 0xdb))) return null;
    i = skipValue(bytes, skipValue(bytes, i));
    if (i < 0) return null;
    if (n % BATCH === 0 || n === header.count) bounds.push(i);
  }
  return { graph: new PackedGraph(bytes, bounds, header.count), end: i };
}

/**
 * Extension types whose value is their payload alone: weft's arrays, frames
 * and foreign values, msgpackr's typed arrays, big integers and undefined, and
 * the timestamp. msgpackr
 * reads some others with the values after them (a Set is its marker and then
 * an array; records, errors, regular expressions and structured-clone
 * references too), so a body holding one is read whole.
 */
const SELF_CONTAINED = new Set([
  NDARRAY_EXTENSION_TYPE,
  FRAME_EXTENSION_TYPE,
  FOREIGN_EXTENSION_TYPE,
  0x74, // msgpackr's typed arrays (moreTypes)
  0x42, // msgpackr's integers past 64 bits
  0x00, // undefined
  0xff, // the timestamp (-1)
]);

/**
 * The index just past the MessagePack value at `i`, found from the lengths in
 * its headers without decoding it; -1 when the bytes end first, hold a byte
 * MessagePack never uses, or an extension that is not SELF_CONTAINED.
 */
export function skipValue(b: Uint8Array, i: number): number {
  let pending = 1;
  while (pending > 0) {
    if (i < 0 || i >= b.length) return -1;
    pending--;
    const t = b[i];
    if (t < 0x80 || t >= 0xe0) i += 1;
    else if (t <= 0x8f) {
      pending += 2 * (t & 0x0f);
      i += 1;
    } else if (t <= 0x9f) {
      pending += t & 0x0f;
      i += 1;
    } else if (t <= 0xbf) i += 1 + (t & 0x1f);
    else {
      switch (t) {
        case 0xc0:
        case 0xc2:
        case 0xc3:
          i += 1;
          break;
        case 0xc4:
        case 0xd9:
          i += 2 + b[i + 1];
          break;
        case 0xc5:
        case 0xda:
          i += 3 + u16(b, i + 1);
          break;
        case 0xc6:
        case 0xdb:
          i += 5 + u32(b, i + 1);
          break;
        case 0xc7:
          if (!SELF_CONTAINED.has(b[i + 2])) return -1;
          i += 3 + b[i + 1];
          break;
        case 0xc8:
          if (!SELF_CONTAINED.has(b[i + 3])) return -1;
          i += 4 + u16(b, i + 1);
          break;
        case 0xc9:
          if (!SELF_CONTAINED.has(b[i + 5])) return -1;
          i += 6 + u32(b, i + 1);
          break;
        case 0xca:
          i += 5;
          break;
        case 0xcb:
          i += 9;
          break;
        case 0xcc:
        case 0xd0:
          i += 2;
          break;
        case 0xcd:
        case 0xd1:
          i += 3;
          break;
        case 0xce:
        case 0xd2:
          i += 5;
          break;
        case 0xcf:
        case 0xd3:
          i += 9;
          break;
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8:
          if (!SELF_CONTAINED.has(b[i + 1])) return -1;
          i += 2 + 2 ** (t - 0xd4);
          break;
        case 0xdc:
          pending += u16(b, i + 1);
          i += 3;
          break;
        case 0xdd:
          pending += u32(b, i + 1);
          i += 5;
          break;
        case 0xde:
          pending += 2 * u16(b, i + 1);
          i += 3;
          break;
        case 0xdf:
          pending += 2 * u32(b, i + 1);
          i += 5;
          break;
        default:
          return -1;
      }
    }
  }
  return i <= b.length ? i : -1;
}

const u16 = (b: Uint8Array, i: number) => (b[i] << 8) | b[i + 1];
const u32 = (b: Uint8Array, i: number) => b[i] * 2 ** 24 + ((b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]);
