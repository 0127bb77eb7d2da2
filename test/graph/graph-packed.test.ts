import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { decodeRequestBody } from '../../src/api/plugins/bodies.ts';
import {
  defaultLimits,
  GraphError,
  PackedGraph,
  parseGraph,
  parsePackedGraph,
  splitPackedBody,
  type Graph,
} from '../../src/graph/index.ts';
import { decodeValue, encodeValue } from '../../src/shared/codec.ts';
import { NDArray } from '../../src/shared/values/ndarray.ts';
import { drawGraph, record, SPECIAL_KEYS } from '../helpers/graph-gen.ts';

/** Maps written as maps, whatever their keys (a Map with a number key stays a number key). */
const mapPackr = new Packr({ useRecords: false, mapsAsObjects: false });
const pack = (value: unknown) => Buffer.from(mapPackr.pack(value));
/** A map's bytes from its entries as given (a key may come twice). */
function mapBytes(entries: [unknown, unknown][] | [unknown, Buffer][]): Buffer {
  const parts = entries.flatMap(([k, v]) => [pack(k), Buffer.isBuffer(v) ? v : pack(v)]);
  return Buffer.concat([Buffer.from([0xde, entries.length >> 8, entries.length & 0xff]), ...parts]);
}

/** The limits of a MessagePack request (binary literals allowed), as GraphSubmitter parses it with. */
const BINARY = { ...defaultLimits, binary: true };

/** The graph of a request body as the graph route reads it: split, then each key's value parsed. */
function readSplit(bytes: Uint8Array, limits = BINARY): { body: Record<string, unknown>; graph: Graph } {
  const body = splitPackedBody(bytes);
  if (body === null) throw new Error('the split gave up');
  expect(body.graph).toBeInstanceOf(PackedGraph);
  return { body, graph: parsePackedGraph(body.graph as PackedGraph, limits) };
}

/** The graph as decodeValue of the whole body and parseGraph read it. */
function readWhole(bytes: Uint8Array, limits = BINARY): Graph {
  return parseGraph((decodeValue(bytes) as { graph: unknown }).graph, limits);
}

describe('splitPackedBody and parsePackedGraph', () => {
  it('read any graph as decodeValue and parseGraph do, in the order of the bytes', () => {
    fc.assert(
      fc.property(fc.gen(), (g) => {
        const { graph, keys } = drawGraph(g);
        const sent = record(graph);
        const bytes = encodeValue({ keys, graph: sent, wait: 1 });
        // A body holding "__proto__" is read whole by the route (decodeRequestBody): msgpackr renames it.
        fc.pre(!Buffer.from(bytes).includes('__proto__'));
        const { body, graph: split } = readSplit(bytes);
        expect(body.keys).toEqual(keys);
        expect(body.wait).toBe(1);
        expect(new Map(split)).toEqual(new Map(readWhole(bytes)));
        expect([...split.keys()]).toEqual(Object.keys(sent));
      }),
      { numRuns: 300 },
    );
  });

  it('binary values, 64-bit integers and a map of 70,000 keys come through as when read whole', () => {
    const graph: Record<string, unknown> = {
      arr: { $literal: new NDArray('float64', [3], new Float64Array([1, 2, 3])) },
      big: 2n ** 60n,
      bytes: new Uint8Array([1, 2, 3]),
    };
    for (let i = 0; i < 70_000; i++) graph[`k${i}`] = { $op: 'inc', args: [{ $ref: 'big' }] };
    // A map of more than 65,535 keys needs a 32-bit header, which msgpackr writes with variableMapSize.
    const bytes = new Packr({ useRecords: false, moreTypes: true, variableMapSize: true }).pack({ graph, keys: 'k1' });
    expect(bytes[7]).toBe(0xdf);
    const { graph: split } = readSplit(bytes);
    expect(split.size).toBe(70_003);
    expect(new Map(split)).toEqual(new Map(readWhole(bytes)));
  });

  it('a key sent twice keeps its first place and its last value; the last "graph" is the graph', () => {
    const graph = mapBytes([
      ['a', 1],
      ['b', 2],
      ['a', 3],
    ]);
    const { body, graph: split } = readSplit(
      mapBytes([
        ['graph', mapBytes([['x', 1]])],
        ['options', { graph: { y: 2 } }],
        ['graph', graph],
        ['keys', ['a']],
      ]),
    );
    expect([...split]).toEqual([
      ['a', { kind: 'lit', value: 3 }],
      ['b', { kind: 'lit', value: 2 }],
    ]);
    expect(body.options).toEqual({ graph: { y: 2 } });
    expect(body.keys).toEqual(['a']);
  });

  it('an empty graph is refused as parseGraph refuses it', () => {
    const body = splitPackedBody(encodeValue({ graph: {}, keys: 'a' }))!;
    expect(() => parsePackedGraph(body.graph as PackedGraph)).toThrow(GraphError);
    expect(() => parsePackedGraph(body.graph as PackedGraph)).toThrow(/empty/);
  });

  it('gives up on bodies it does not read, which are then read whole', () => {
    const whole = encodeValue({ graph: { a: 1 }, keys: 'a' });
    for (const [what, bytes] of [
      ['an array', pack([1, 2])],
      ['a string', pack('graph')],
      ['graph an array', pack({ graph: [1], keys: 'a' })],
      ['graph a string', pack({ graph: 'x', keys: 'a' })],
      ['no graph', pack({ keys: 'a' })],
      ['an empty map', pack({})],
      ['a number key in the graph', mapBytes([['graph', pack(new Map<unknown, unknown>([[1, 2]]))]])],
      [
        'a number key in the body',
        mapBytes([
          [1, 2],
          ['graph', pack({ a: 1 })],
        ]),
      ],
      ['bytes after the body', Buffer.concat([whole, Buffer.from([0x01])])],
      ['cut short', whole.subarray(0, whole.length - 1)],
      ['cut in the graph', whole.subarray(0, 8)],
      ['nothing', Buffer.alloc(0)],
    ] as [string, Buffer][]) {
      expect(splitPackedBody(bytes), what).toBeNull();
    }
  });
});

describe("the graph route's MessagePack bodies (decodeRequestBody)", () => {
  it('are split unless the bytes hold "__proto__", which msgpackr would rename: such a body is read whole', () => {
    const plain = decodeRequestBody(Buffer.from(encodeValue({ graph: { a: 1 }, keys: 'a' })), splitPackedBody) as any;
    expect(plain.graph).toBeInstanceOf(PackedGraph);
    for (const key of SPECIAL_KEYS.filter((k) => k.includes('__proto__'))) {
      const graph = record([
        [key, { $literal: record([['__proto__', 1]]) }],
        ['b', 2],
      ]);
      const body = decodeRequestBody(Buffer.from(encodeValue({ graph, keys: 'b' })), splitPackedBody) as any;
      expect(body.graph).not.toBeInstanceOf(PackedGraph);
      expect(Object.keys(body.graph)).toEqual([key, 'b']);
      expect(Object.keys(body.graph[key].$literal)).toEqual(['__proto__']);
      expect(Object.getPrototypeOf(body.graph[key].$literal)).toBe(Object.prototype);
    }
  });
});
