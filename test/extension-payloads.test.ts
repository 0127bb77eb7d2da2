/**
 * Foreign values and array chunks inside a big MessagePack value (a request
 * body of a Dask graph) are decoded in place: decoding n of them must not copy
 * the whole body n times (src/shared/values/payload.ts). Every form the
 * encoders write, and the forms only msgpackr reads, decode to the same values.
 */
import { pack, Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { decodeValue, encodeValue } from '../src/shared/codec.ts';
import { Foreign } from '../src/shared/values/foreign.ts';
import { NDArray } from '../src/shared/values/ndarray.ts';

function ext(type: number, payload: Uint8Array): Buffer {
  const n = payload.length;
  const head = Buffer.alloc(6);
  head[0] = 0xc9;
  head.writeUInt32BE(n, 1);
  head[5] = type;
  return Buffer.concat([head, payload]);
}

describe('extension payloads', () => {
  it('a body of many foreign values decodes without copying the body for each', () => {
    const values = Array.from(
      { length: 3000 },
      (_, i) => new Foreign('python', `f${i}`, new Uint8Array(400).fill(i % 256)),
    );
    const body = encodeValue({ graph: values });
    expect(body.length).toBeGreaterThan(1_200_000);
    const before = process.memoryUsage().arrayBuffers;
    const decoded = decodeValue(body) as { graph: Foreign[] };
    const grown = process.memoryUsage().arrayBuffers - before;
    // Copying the body per value would be 3000 x 1.2 MB.
    expect(grown).toBeLessThan(50_000_000);
    expect(decoded.graph).toHaveLength(3000);
    expect(decoded.graph[2999]).toBeInstanceOf(Foreign);
    expect(decoded.graph[2999].name).toBe('f2999');
    expect([...decoded.graph[7].data.subarray(0, 3)]).toEqual([7, 7, 7]);
    expect(decoded.graph[7].data.byteLength).toBe(400);
  });

  it('foreign values in the forms only msgpackr reads still decode', () => {
    // data as a str8-headed name and a bin16; then a payload whose fields are in a fixmap (not weft's form): an error.
    const long = 'n'.repeat(300);
    const payload = pack(['python', long, new Uint8Array(70_000)]);
    const f = decodeValue(ext(0x50, payload)) as Foreign;
    expect([f.lang, f.name.length, f.data.byteLength]).toEqual(['python', 300, 70_000]);
    expect(() => decodeValue(ext(0x50, pack({ lang: 'python' })))).toThrow(/\[lang, name, data\]/);
    // base64 text for data (as JSON carries it) goes through msgpackr and checkedForeign.
    const b64 = decodeValue(ext(0x50, pack(['python', 'x', Buffer.from('hi').toString('base64')]))) as Foreign;
    expect(Buffer.from(b64.data).toString()).toBe('hi');
  });

  it('array chunks: the aligned stored form, the short form and msgpackr typed arrays decode alike', () => {
    const big = new NDArray(
      'float64',
      [3, 200],
      Float64Array.from({ length: 600 }, (_, i) => i / 3),
    );
    const small = new NDArray('int16', [2, 2], Int16Array.from([1, -2, 3, -4]));
    for (const a of [big, small]) {
      const stored = decodeValue(encodeValue(a)) as NDArray;
      expect(stored.shape).toEqual(a.shape);
      expect([...stored.data]).toEqual([...a.data]);
      const nested = (decodeValue(encodeValue([a, a])) as NDArray[])[1];
      expect([...nested.data]).toEqual([...a.data]);
    }
    // A payload holding the typed array as msgpackr's own extension (moreTypes): msgpackr reads it.
    const typed = new Packr({ useRecords: false, moreTypes: true }).pack([
      'int16',
      [2, 2],
      Int16Array.from([1, -2, 3, -4]),
    ]);
    const viaMsgpackr = decodeValue(ext(0x41, typed)) as NDArray;
    expect([...viaMsgpackr.data]).toEqual([1, -2, 3, -4]);
    expect(() => decodeValue(ext(0x41, pack(['int16', [2, 2], new Uint8Array(3)])))).toThrow();
  });
});
