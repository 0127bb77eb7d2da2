/** Value encoding: typed arrays stay binary through the store; the JSON form for responses. */
import { describe, expect, it } from 'vitest';
import { decodeValue, encodeValue } from '../src/shared/codec.ts';
import { jsonReplacer } from '../src/store/values.ts';
import { objectId, parseObjectId } from '../src/store/objects.ts';

describe('value codec', () => {
  it('round-trips JSON values and typed arrays, keeping their types', () => {
    const value = {
      a: [1, 'two', null, true, { b: 2.5 }],
      f64: new Float64Array([1.5, -2]),
      i32: new Int32Array([7, -8]),
      u8: new Uint8Array([1, 2, 3]),
    };
    const back = decodeValue(encodeValue(value)) as typeof value;
    expect(back.a).toEqual(value.a);
    expect(back.f64).toBeInstanceOf(Float64Array);
    expect([...back.f64]).toEqual([1.5, -2]);
    expect(back.i32).toBeInstanceOf(Int32Array);
    expect([...back.i32]).toEqual([7, -8]);
    expect([...back.u8]).toEqual([1, 2, 3]);
  });

  it('stores a million doubles in about 8 MB, not as JSON text', () => {
    const bytes = encodeValue(new Float64Array(1_000_000).map((_, i) => i / 3));
    expect(bytes.length).toBeLessThan(8_000_100);
  });

  it('undefined is stored as null', () => {
    expect(decodeValue(encodeValue(undefined))).toBeNull();
  });

  it('the JSON form writes bytes as base64 and other typed arrays as number arrays', () => {
    expect(
      JSON.parse(JSON.stringify({ u8: new Uint8Array([104, 105]), f: new Float32Array([0.5]) }, jsonReplacer)),
    ).toEqual({ u8: { $bytes: 'aGk=' }, f: [0.5] });
  });
});

describe('object ids', () => {
  it('are <graph id>.<node index> and parse back', () => {
    const oid = objectId('q0mH6nV3xg2n7cXJ1l9mIQ', 12);
    expect(oid).toBe('q0mH6nV3xg2n7cXJ1l9mIQ.12');
    expect(parseObjectId(oid)).toEqual({ graph: 'q0mH6nV3xg2n7cXJ1l9mIQ', node: '12' });
    expect(parseObjectId('q0mH6nV3xg2n7cXJ1l9mIQ.12:3')).toEqual({ graph: 'q0mH6nV3xg2n7cXJ1l9mIQ', node: '12:3' });
    expect(parseObjectId('no-dot')).toBeNull();
    expect(parseObjectId('a.b')).toBeNull();
  });
});

describe('fields named like Object.prototype members', () => {
  it('"__proto__", "constructor" and "toString" fields come back as ordinary fields, at any depth', () => {
    const value = JSON.parse(
      '{"__proto__": {"polluted": true, "__proto__": [1, {"__proto__": null}]}, "constructor": 2, "toString": "s", "list": [{"__proto__": 3}]}',
    );
    const back = decodeValue(encodeValue(value)) as Record<string, unknown>;
    expect(Object.keys(back)).toEqual(['__proto__', 'constructor', 'toString', 'list']);
    expect(JSON.stringify(back)).toBe(JSON.stringify(value));
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('values that only mention "__proto__" as a string keep their types', () => {
    const value = { s: '__proto__', f64: new Float64Array([1, 2]), nested: { m: 'x' } };
    const back = decodeValue(encodeValue(value)) as typeof value;
    expect(back.s).toBe('__proto__');
    expect(back.f64).toBeInstanceOf(Float64Array);
    expect(back.nested).toEqual({ m: 'x' });
  });
});
