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
  skipValue,
  splitPackedBody,
  type Graph,
} from '../../src/graph/index.ts';
import { decodeValue, encodeValue } from '../../src/shared/codec.ts';
import { NDArray, NDARRAY_EXTENSION_TYPE } from '../../src/shared/values/ndarray.ts';
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
      { numRuns: 300, endOnFailure: true },
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

  it('values of every MessagePack type end where msgpackr says: literals of anything read as when read whole', () => {
    const packers = [
      (v: unknown) => encodeValue(v),
      (v: unknown) => new Packr({ useRecords: false, variableMapSize: true }).pack(v),
    ];
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.anything({ withBigInt: true, withTypedArray: true, withDate: true }),
            fc.string({ minLength: 30, maxLength: 300 }),
            fc.uint8Array({ maxLength: 300 }),
          ),
          { minLength: 1, maxLength: 8 },
        ),
        fc.nat(1),
        (values, p) => {
          const graph: Record<string, unknown> = {};
          values.forEach((v, i) => (graph[`k${i}`] = { $literal: v }));
          let bytes: Uint8Array;
          try {
            bytes = packers[p]({ graph, keys: 'k0' });
          } catch {
            return; // a value msgpackr does not write (a map too large for encodeValue's 16-bit size)
          }
          fc.pre(!Buffer.from(bytes).includes('__proto__'));
          let whole: Graph;
          try {
            whole = readWhole(bytes);
          } catch {
            // What the whole read refuses, the split refuses too, when it splits at all.
            const body = splitPackedBody(bytes);
            if (body !== null) expect(() => parsePackedGraph(body.graph as PackedGraph, BINARY)).toThrow();
            return;
          }
          expect(new Map(readSplit(bytes).graph)).toEqual(new Map(whole));
        },
      ),
      { numRuns: 300, endOnFailure: true },
    );
  });

  it('a value whose extension msgpackr cannot read is an invalid graph, named by its key', () => {
    const bad = Buffer.from([0xd4, NDARRAY_EXTENSION_TYPE & 0xff, 0x00]);
    const bytes = mapBytes([
      [
        'graph',
        mapBytes([
          ['a', 1],
          ['b', bad],
        ]),
      ],
      ['keys', 'a'],
    ]);
    expect(() => decodeValue(bytes)).toThrow();
    const body = splitPackedBody(bytes)!;
    expect(body.graph).toBeInstanceOf(PackedGraph);
    let thrown: unknown;
    try {
      parsePackedGraph(body.graph as PackedGraph, BINARY);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(GraphError);
    expect(thrown).toMatchObject({ code: 'invalid_graph', details: { key: 'b' } });
    expect((thrown as Error).message).toMatch(/^\$\["b"\] is not MessagePack weft reads/);
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

describe('skipValue', () => {
  /** A header byte and a big-endian length of `size` bytes. */
  const head = (byte: number, size: number, n: number) => {
    const b = Buffer.alloc(1 + size);
    b[0] = byte;
    b.writeUIntBE(n, 1, size);
    return b;
  };
  /** An extension of weft's array type (self-contained: its payload is all of it). */
  const ext = (header: Buffer, payload: number) =>
    Buffer.concat([header, Buffer.from([NDARRAY_EXTENSION_TYPE]), Buffer.alloc(payload)]);

  it('finds the end of a value of every format, as its headers give it', () => {
    const values: [string, Buffer][] = [
      ['positive fixint', Buffer.from([0x7f])],
      ['negative fixint', Buffer.from([0xe0])],
      ['nil, false, true', Buffer.from([0xc0])],
      ['false', Buffer.from([0xc2])],
      ['true', Buffer.from([0xc3])],
      ['fixstr', Buffer.from([0xa3, 0x61, 0x62, 0x63])],
      ['str8', Buffer.concat([head(0xd9, 1, 40), Buffer.alloc(40, 0x61)])],
      ['str16', Buffer.concat([head(0xda, 2, 300), Buffer.alloc(300, 0x61)])],
      ['str32', Buffer.concat([head(0xdb, 4, 70_000), Buffer.alloc(70_000, 0x61)])],
      ['bin8', Buffer.concat([head(0xc4, 1, 5), Buffer.alloc(5)])],
      ['bin16', Buffer.concat([head(0xc5, 2, 300), Buffer.alloc(300)])],
      ['bin32', Buffer.concat([head(0xc6, 4, 70_000), Buffer.alloc(70_000)])],
      ['fixext1', ext(Buffer.from([0xd4]), 1)],
      ['fixext2', ext(Buffer.from([0xd5]), 2)],
      ['fixext4', ext(Buffer.from([0xd6]), 4)],
      ['fixext8', ext(Buffer.from([0xd7]), 8)],
      ['fixext16', ext(Buffer.from([0xd8]), 16)],
      ['ext8', ext(head(0xc7, 1, 7), 7)],
      ['ext16', ext(head(0xc8, 2, 300), 300)],
      ['ext32', ext(head(0xc9, 4, 70_000), 70_000)],
      ['float32', Buffer.concat([Buffer.from([0xca]), Buffer.alloc(4)])],
      ['float64', Buffer.concat([Buffer.from([0xcb]), Buffer.alloc(8)])],
      ...([0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd1, 0xd2, 0xd3].map((t, k) => [
        `int ${t.toString(16)}`,
        Buffer.concat([Buffer.from([t]), Buffer.alloc(2 ** (k % 4))]),
      ]) as [string, Buffer][]),
      ['fixarray', Buffer.from([0x92, 0x01, 0xa1, 0x61])],
      ['array16', Buffer.concat([head(0xdc, 2, 20), Buffer.alloc(20, 0x01)])],
      ['array32', Buffer.concat([head(0xdd, 4, 3), Buffer.from([0x01, 0xc0, 0x90])])],
      ['fixmap', Buffer.from([0x81, 0xa1, 0x61, 0x80])],
      ['map16', Buffer.concat([head(0xde, 2, 2), Buffer.from([0xa1, 0x61, 0x01, 0xa1, 0x62, 0x91, 0x02])])],
      ['map32', Buffer.concat([head(0xdf, 4, 1), Buffer.from([0xa1, 0x61, 0xd9, 0x01, 0x61])])],
    ];
    for (const [what, value] of values) {
      // Alone, followed by another value, and nested in an array with others around it.
      expect(skipValue(value, 0), what).toBe(value.length);
      expect(skipValue(Buffer.concat([value, Buffer.from([0x05])]), 0), what).toBe(value.length);
      const nested = Buffer.concat([Buffer.from([0x93, 0x01]), value, Buffer.from([0xa1, 0x7a])]);
      expect(skipValue(nested, 0), what).toBe(nested.length);
      // Cut short, it has no end.
      expect(skipValue(value.subarray(0, value.length - 1), 0), what).toBe(-1);
    }
    expect(skipValue(Buffer.from([0xc1]), 0)).toBe(-1);
    // msgpackr's Set: its marker, then the array that holds its members. Not skipped: the body is read whole.
    expect(skipValue(Buffer.from([0xd4, 0x73, 0x00, 0x91, 0x01]), 0)).toBe(-1);
    expect(skipValue(Buffer.from([0x92, 0x01]), 0)).toBe(-1);
  });

  it('agrees with msgpackr on where values end', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.anything({ withBigInt: true, withTypedArray: true, withDate: true, withMap: true, withSet: true }),
          {
            minLength: 1,
            maxLength: 5,
          },
        ),
        (values) => {
          let bytes: Buffer;
          try {
            bytes = Buffer.concat(values.map((v) => Buffer.from(encodeValue(v))));
          } catch {
            return;
          }
          const ends: number[] = [];
          // Maps as Maps: the positions are the same, and a map with other keys than strings is read too.
          new Packr({ useRecords: false, moreTypes: true, mapsAsObjects: false }).unpackMultiple(
            bytes,
            (_v, _start, end) => {
              ends.push(end!);
            },
          );
          expect(ends.length).toBe(values.length);
          // Where skipValue finds an end, it is msgpackr's; it may give up (an extension not self-contained).
          let at = 0;
          for (const end of ends) {
            at = skipValue(bytes, at);
            if (at < 0) return;
            expect(at).toBe(end);
          }
        },
      ),
      { numRuns: 300, endOnFailure: true },
    );
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
