/** array.* ops over NDArray chunks, checked against plain reference loops written here. */
import { readFileSync } from 'node:fs';
import { addExtension, Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { arrayOps } from '../../src/ops/array/index.ts';
import { decodeValue, encodeValue } from '../../src/shared/codec.ts';
import { OpArgumentError, OpRegistry } from '../../src/ops/registry.ts';
import {
  ALIGN_FROM,
  DTYPES,
  allocate,
  NDARRAY_EXTENSION_TYPE,
  NDArray,
  NDArrayFormatError,
  fromJSONForm,
  ndarrayFromWire,
  ndarrayPack,
  ndarrayToWire,
  ndarrayUnpack,
  type DType,
} from '../../src/shared/values/ndarray.ts';

// As src/shared/codec.ts would register it; pack/unpack give a standard ext any MessagePack library reads.
addExtension({ Class: NDArray, type: NDARRAY_EXTENSION_TYPE, pack: ndarrayPack, unpack: ndarrayUnpack });
const packr = new Packr({ useRecords: false, moreTypes: true, mapsAsObjects: true });
/** A MessagePack reader with no extensions of weft's, as a client in another language is. */
const plain = new Packr({ useRecords: false });

const ctx = { signal: new AbortController().signal, graph: 'g', key: 'k' };
const ops = new Map(arrayOps.map((o) => [o.name, o]));

function call(name: string, args: unknown[], kwargs: Record<string, unknown> = {}): any {
  const op = ops.get(name);
  if (!op) throw new Error(`no op ${name}`);
  return op.run(args, kwargs, ctx);
}
const arr = (data: unknown, dtype?: DType): NDArray => call('array.from', dtype ? [data, dtype] : [data]);
const list = (a: NDArray): unknown => call('array.to_list', [a]);
const rand = (shape: number[], seed: number): NDArray => call('array.random', [shape, seed]);

function expectClose(actual: number, expected: number, rel = 1e-12): void {
  if (Object.is(actual, expected) || (Number.isNaN(actual) && Number.isNaN(expected))) return;
  const tol = rel * Math.max(Math.abs(expected), Number.MIN_VALUE);
  if (!(Math.abs(actual - expected) <= tol))
    throw new Error(
      `expected ${actual} to be within ${rel} relative of ${expected} (off by ${Math.abs(actual - expected) / Math.abs(expected)})`,
    );
}

function expectAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel = 1e-12): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expectClose(actual[i], expected[i], rel);
}

function expectError(
  name: string,
  args: unknown[],
  message: string | RegExp,
  kwargs: Record<string, unknown> = {},
): void {
  let error: unknown;
  try {
    call(name, args, kwargs);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(OpArgumentError);
  if (typeof message === 'string') expect((error as Error).message).toBe(message);
  else expect((error as Error).message).toMatch(message);
}

// ------------------------------------------------------------- references

/** Every index of a shape, row-major. */
function* indices(shape: number[]): Generator<number[]> {
  if (shape.some((d) => d === 0)) return;
  const idx = shape.map(() => 0);
  while (true) {
    yield [...idx];
    let d = shape.length - 1;
    for (; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

/** The element at a multi-index, by strides computed here independently of the code under test. */
function at(a: NDArray, idx: number[]): number {
  let flat = 0;
  for (let d = 0; d < idx.length; d++) flat = flat * a.shape[d] + idx[d];
  return a.data[flat];
}

/** f over the values along `axis` for every other index, row-major. */
function alongAxis(a: NDArray, axis: number, f: (xs: number[]) => number): number[] {
  const outShape = a.shape.filter((_, i) => i !== axis);
  const out: number[] = [];
  for (const idx of indices(outShape)) {
    const xs: number[] = [];
    for (let k = 0; k < a.shape[axis]; k++) xs.push(at(a, [...idx.slice(0, axis), k, ...idx.slice(axis)]));
    out.push(f(xs));
  }
  return out;
}

const refSum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
const refMean = (xs: number[]) => refSum(xs) / xs.length;
const refVar = (ddof: number) => (xs: number[]) => {
  const m = refMean(xs);
  return xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - ddof);
};
const refMin = (xs: number[]) => Math.min(...xs);
const refMax = (xs: number[]) => Math.max(...xs);

// ----------------------------------------------------------------- the ops

describe('the op list', () => {
  it('names every op array.*, with a one-line description, and registers them all', () => {
    const registry = new OpRegistry();
    for (const op of arrayOps) {
      expect(op.name).toMatch(/^array\.[a-z_]+$/);
      expect(op.description).toMatch(new RegExp(`^${op.name.replace('.', '\\.')}\\(`));
      expect(op.description).not.toContain('\n');
      registry.register(op);
    }
    expect(registry.list()).toHaveLength(arrayOps.length);
  });

  it('docs/arrays.md documents exactly these ops', () => {
    const doc = readFileSync(new URL('../../docs/arrays.md', import.meta.url), 'utf8');
    const documented = new Set([...doc.matchAll(/`(array\.[a-z_]+)\(/g)].map((m) => m[1]));
    expect([...documented].sort()).toEqual(arrayOps.map((o) => o.name).sort());
  });

  it('arguments go by position or by name; unknown, doubled and missing ones are errors', () => {
    expect(list(call('array.zeros', [], { shape: [2], dtype: 'int8' }))).toEqual([0, 0]);
    expect(
      call(
        'array.sum',
        [
          arr([
            [1, 2],
            [3, 4],
          ]),
        ],
        { axis: 0 },
      ).data,
    ).toEqual(new Float64Array([4, 6]));
    expectError('array.zeros', [[2]], 'array.zeros has no argument "size": array.zeros(shape, dtype).', { size: 2 });
    expectError(
      'array.sum',
      [arr([1]), 0],
      'array.sum: axis is given both as argument 2 and as a keyword; give it once.',
      { axis: 0 },
    );
    expectError('array.random', [[2]], 'array.random: missing argument seed: array.random(shape, seed).');
    expectError('array.neg', [arr([1]), 2], 'array.neg takes at most 1 argument, got 2: array.neg(a).');
  });

  it('a non-array where an array goes says how to make one', () => {
    expectError(
      'array.sum',
      [[1, 2, 3]],
      'array.sum expects an NDArray as a, got an array; make one from nested lists with array.from.',
    );
    expectError(
      'array.sum',
      [{ $ndarray: { dtype: 'float64', shape: [2], data: [1] } }],
      'array.sum: a is not a valid array: "data" has 1 numbers but shape [2] needs 2.',
    );
  });

  it('no op changes the arrays it is given', () => {
    const a = arr([
      [1.5, -2, 3],
      [4, 5, -6],
    ]);
    const b = arr(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      'int16',
    );
    const before = [Array.from(a.data), Array.from(b.data)];
    const partial = call('array.moments', [a, 0]);
    const partialBefore = Array.from(partial.mean.data as Float64Array);
    for (const name of ['array.add', 'array.sub', 'array.mul', 'array.div', 'array.pow', 'array.mod', 'array.lt'])
      call(name, [a, b]);
    for (const name of [
      'array.neg',
      'array.abs',
      'array.sqrt',
      'array.exp',
      'array.log',
      'array.sum',
      'array.var',
      'array.transpose',
      'array.to_list',
    ])
      call(name, [a]);
    call('array.reshape', [a, [3, 2]]);
    call('array.slice', [a, [null, [null, null, -1]]]);
    call('array.concatenate', [[a, b]]);
    call('array.matmul', [a, call('array.transpose', [b])]);
    call('array.astype', [b, 'float64']);
    call('array.combine_moments', [[partial, partial]]);
    expect([Array.from(a.data), Array.from(b.data)]).toEqual(before);
    expect(Array.from(partial.mean.data as Float64Array)).toEqual(partialBefore);
  });
});

/** A MessagePack extension's type and payload, read by hand (msgpackr's extensions are global, so it would decode ours). */
function splitExtension(value: Buffer): { type: number; data: Buffer } {
  const first = value[0];
  if (first >= 0xd4 && first <= 0xd8) return { type: value[1], data: value.subarray(2, 2 + 2 ** (first - 0xd4)) };
  const [length, at] =
    first === 0xc7
      ? [value[1], 2]
      : first === 0xc8
        ? [value.readUInt16BE(1), 3]
        : first === 0xc9
          ? [value.readUInt32BE(1), 5]
          : [-1, 0];
  if (length < 0) throw new Error(`not an extension: 0x${first.toString(16)}`);
  expect(value.length).toBe(at + 1 + length);
  return { type: value[at], data: value.subarray(at + 1) };
}

describe('NDArray and its encodings', () => {
  it('checks its fields', () => {
    expect(() => new NDArray('float64', [2, 2], new Float64Array(3))).toThrow(
      'data has 3 elements but shape [2,2] needs 4.',
    );
    expect(() => new NDArray('int32', [2], new Float64Array(2) as never)).toThrow(
      'data of a int32 array must be a Int32Array, got a Float64Array.',
    );
    expect(() => new NDArray('float16' as DType, [1], new Float64Array(1))).toThrow(
      /^unknown dtype "float16": use one of float64, float32/,
    );
    expect(() => new NDArray('uint8', [-1], new Uint8Array(0))).toThrow(
      'shape must be an array of non-negative integers, got [-1].',
    );
    const a = new NDArray('uint8', [2], Buffer.from([1, 2]));
    expect(Buffer.isBuffer(a.data)).toBe(false);
    expect(a.ndim).toBe(1);
    expect(a.size).toBe(2);
  });

  it('is stored in a buffer of its own size: small arrays as exactly the bytes msgpackr writes, large ones with the data 8-byte aligned and read without a copy', () => {
    // The reference: msgpackr packing [dtype, shape, bytes] as the payload of its own extension.
    class Reference {
      constructor(readonly a: NDArray) {}
    }
    addExtension({
      Class: Reference,
      type: NDARRAY_EXTENSION_TYPE,
      pack: (r: Reference) =>
        plain.pack([r.a.dtype, r.a.shape, Buffer.from(r.a.data.buffer, r.a.data.byteOffset, r.a.data.byteLength)]),
      unpack: ndarrayUnpack,
    });
    const shapes = [
      [],
      [0],
      [1],
      [2],
      [3],
      [5],
      [7],
      [13],
      [31],
      [32],
      [127],
      [128],
      [255],
      [256],
      [511],
      [513],
      [4095],
      [8192],
      [65535],
      [65536],
      [300_000],
      [2, 3],
      [64, 65],
      [0, 0, 0],
      [0, 0, 0, 0],
      [2 ** 32, 0],
      [0, 2 ** 40],
      [70_000, 0, 1],
      [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 4096],
    ];
    for (const dtype of DTYPES) {
      for (const shape of shapes) {
        const size = shape.reduce((n, d) => n * d, 1);
        const data = allocate(dtype, size).map((_, i) => i % 100);
        const a = new NDArray(dtype, shape, data);
        const what = `${dtype} ${JSON.stringify(shape)}`;
        const value = encodeValue(a);
        const raw = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
        // Any MessagePack reader gets the extension and, from its payload, [dtype, shape, bytes].
        const ext = splitExtension(value);
        expect(ext.type, what).toBe(NDARRAY_EXTENSION_TYPE);
        const [wireDtype, wireShape, wireData] = plain.unpack(ext.data) as [string, number[], Buffer];
        expect([wireDtype, wireShape], what).toEqual([dtype, shape]);
        expect(wireData.equals(raw), what).toBe(true);
        expect(ndarrayPack(a).equals(plain.pack([dtype, shape, raw])), what).toBe(true);
        if (raw.length < ALIGN_FROM) {
          expect(value.equals(packr.pack(new Reference(a))), what).toBe(true);
        } else {
          // Small values share Node's buffer pool; large ones have a buffer of their own size.
          expect(value.buffer.byteLength, what).toBe(value.length);
          const dataAt = value.length - raw.length;
          expect(dataAt % 8, `${what}: data at ${dataAt}`).toBe(shape.length >= 16 && dataAt % 8 === 4 ? 4 : 0);
        }
        const back = decodeValue(value) as NDArray;
        expect(back.shape).toEqual(shape);
        expect(back.dtype).toBe(dtype);
        expect(Buffer.from(back.data.buffer, back.data.byteOffset, back.data.byteLength).equals(raw), what).toBe(true);
        // Aligned large data is viewed where it lies; the decoded array owns those bytes from then on.
        if (raw.length >= ALIGN_FROM && shape.length < 16) expect(back.data.buffer, what).toBe(value.buffer);
      }
    }
    // Misaligned bytes (a value read at an odd offset) are copied, and read the same.
    const big = new NDArray(
      'float64',
      [1000],
      new Float64Array(1000).map((_, i) => i * 1.5),
    );
    const encoded = encodeValue(big);
    const shifted = Buffer.alloc(encoded.length + 3);
    encoded.copy(shifted, 3);
    const fromShifted = decodeValue(shifted.subarray(3)) as NDArray;
    expect(fromShifted.data).toEqual(big.data);
    expect(fromShifted.data.buffer).not.toBe(shifted.buffer);
    // A view into a larger buffer is written from its own bytes only.
    const whole = new Float64Array([9, 8, 7, 6]);
    const view = new NDArray('float64', [2], whole.subarray(1, 3));
    expect(Array.from((decodeValue(encodeValue(view)) as NDArray).data)).toEqual([8, 7]);
  });

  it('has a JSON form that reads back for every dtype, NaN as null', () => {
    for (const dtype of DTYPES) {
      const a = arr(
        [
          [1, 2, 3],
          [4, 5, 126],
        ],
        dtype,
      );
      const json = JSON.parse(JSON.stringify(a));
      expect(json).toEqual({ $ndarray: { dtype, shape: [2, 3], data: [1, 2, 3, 4, 5, 126] } });
      const back = fromJSONForm(json);
      expect(back.dtype).toBe(dtype);
      expect(back.shape).toEqual([2, 3]);
      expect(back.data).toEqual(a.data);
    }
    const f = arr([NaN, 1.5, Infinity]);
    const json = JSON.parse(JSON.stringify({ v: f }));
    expect(json.v.$ndarray.data).toEqual([null, 1.5, null]);
    expect(Array.from(fromJSONForm(json.v).data)).toEqual([NaN, 1.5, NaN]);
    const scalar = arr(7);
    expect(fromJSONForm(JSON.parse(JSON.stringify(scalar))).shape).toEqual([]);
  });

  it('reading the JSON form is strict and says what is wrong', () => {
    const bad = (body: unknown) => () => fromJSONForm({ $ndarray: body });
    expect(bad({ dtype: 'float16', shape: [1], data: [1] })).toThrow(
      'unknown dtype "float16": use one of float64, float32, int32, int16, int8, uint32, uint16, uint8.',
    );
    expect(bad({ dtype: 'int8', shape: [2], data: [1, 300] })).toThrow(
      '"data"[1] is 300, not a int8 (integers -128 to 127).',
    );
    expect(bad({ dtype: 'int32', shape: [2], data: [1, 1.5] })).toThrow(
      '"data"[1] is 1.5, not a int32 (integers -2147483648 to 2147483647).',
    );
    expect(bad({ dtype: 'int32', shape: [1], data: [null] })).toThrow('"data"[0] is null, not a number.');
    expect(bad({ dtype: 'float64', shape: [2, 2], data: [1, 2, 3] })).toThrow(
      '"data" has 3 numbers but shape [2,2] needs 4.',
    );
    expect(bad({ dtype: 'float64', shape: [1.5], data: [] })).toThrow(
      '"shape" must be an array of non-negative integers, got [1.5].',
    );
    expect(bad({ dtype: 'float64', shape: [1], data: [1], order: 'F' })).toThrow('unexpected field "order"');
    expect(() => fromJSONForm({ dtype: 'float64' })).toThrow(NDArrayFormatError);
    expect(() => fromJSONForm({ $ndarray: [] })).toThrow('"$ndarray" holds [].');
  });

  it('round-trips through MessagePack as extension 0x41 with the data binary', () => {
    for (const dtype of DTYPES) {
      const a = arr(
        [
          [1, 2],
          [3, 4],
          [5, 6],
        ],
        dtype,
      );
      const bytes = packr.pack({ chunk: a, n: 1 });
      expect(bytes.includes(NDARRAY_EXTENSION_TYPE)).toBe(true);
      const back = packr.unpack(bytes) as { chunk: NDArray; n: number };
      expect(back.chunk).toBeInstanceOf(NDArray);
      expect(back.chunk.dtype).toBe(dtype);
      expect(back.chunk.shape).toEqual([3, 2]);
      expect(back.chunk.data.constructor).toBe(a.data.constructor);
      expect(Array.from(back.chunk.data)).toEqual([1, 2, 3, 4, 5, 6]);
    }
    const big = rand([100_000], 1);
    const bytes = packr.pack(big);
    expect(bytes.length).toBeLessThan(800_000 + 64); // 8 bytes an element: binary, not a list of numbers
    expect((packr.unpack(bytes) as NDArray).data).toEqual(big.data);
    const empty = packr.unpack(packr.pack(call('array.zeros', [[0, 3]]))) as NDArray;
    expect(empty.shape).toEqual([0, 3]);
    const scalar = packr.unpack(packr.pack(arr(2.5))) as NDArray;
    expect([scalar.shape, scalar.data[0]]).toEqual([[], 2.5]);
  });

  it('is a standard ext on the wire: [dtype, shape, little-endian bytes] as plain MessagePack', () => {
    const a = arr(
      [
        [1, -2],
        [3, 4],
      ],
      'int16',
    );
    const bytes = packr.pack(a);
    // ext 8: 0xc7, payload length, type, payload.
    expect([bytes[0], bytes[1] + 3, bytes[2]]).toEqual([0xc7, bytes.length, NDARRAY_EXTENSION_TYPE]);
    const [dtype, shape, data] = plain.unpack(bytes.subarray(3)) as [string, number[], Uint8Array];
    expect([dtype, shape]).toEqual(['int16', [2, 2]]);
    expect(Array.from(data)).toEqual([1, 0, 0xfe, 0xff, 3, 0, 4, 0]);
    expect(ndarrayUnpack(ndarrayPack(a)).data).toEqual(a.data);
    expect(() => ndarrayUnpack(new Uint8Array([0x93, 0xa7, 0x66]))).toThrow(
      /^an NDArray's MessagePack payload is not valid MessagePack/,
    );
  });

  it('ndarrayToWire and ndarrayFromWire (msgpackr write/read) keep the typed array binary', () => {
    const a = arr(
      [
        [1.5, 2],
        [3, 4],
      ],
      'float32',
    );
    const wire = ndarrayToWire(a);
    expect(wire).toEqual(['float32', [2, 2], a.data]);
    const back = ndarrayFromWire(packr.unpack(packr.pack(wire)));
    expect([back.dtype, back.shape, back.data]).toEqual(['float32', [2, 2], new Float32Array([1.5, 2, 3, 4])]);
  });

  it('reads raw little-endian bytes as another language sends them (numpy tobytes), at any alignment', () => {
    // What a Python client packs: ext 0x41 holding [dtype, shape, bin].
    const raw = Buffer.from(new Float64Array([1.5, -2, 3]).buffer);
    const payload = packr.pack(['float64', [3], raw]);
    const ext = Buffer.concat([Buffer.from([0xc7, payload.length, NDARRAY_EXTENSION_TYPE]), payload]);
    const a = packr.unpack(ext) as NDArray;
    expect(a).toBeInstanceOf(NDArray);
    expect(a.data).toEqual(new Float64Array([1.5, -2, 3]));

    const odd = new Uint8Array(9).subarray(1);
    odd.set(new Uint8Array(new Int32Array([7, -8]).buffer));
    expect(ndarrayFromWire(['int32', [2], odd]).data).toEqual(new Int32Array([7, -8]));
    expect(() => ndarrayFromWire(['int32', [3], odd])).toThrow(
      'data of a int32 array of 3 elements must be 12 bytes, got 8.',
    );
    expect(() => ndarrayFromWire(['int32', [2]])).toThrow(
      'an NDArray on the wire is [dtype, shape, data], got ["int32",[2]].',
    );
    expect(() => ndarrayFromWire(['int32', [1], new Float64Array(1)])).toThrow(
      'data of a int32 array on the wire must be a Int32Array or its bytes, got a Float64Array.',
    );
  });
});

describe('creation', () => {
  it('array.from reads the shape off the nesting and picks int32 or float64', () => {
    const a = arr([
      [
        [1, 2],
        [3, 4],
        [5, 6],
      ],
    ]);
    expect([a.dtype, a.shape, Array.from(a.data)]).toEqual(['int32', [1, 3, 2], [1, 2, 3, 4, 5, 6]]);
    expect(arr([1, 2.5]).dtype).toBe('float64');
    expect(arr([1, 2 ** 31]).dtype).toBe('float64');
    expect(arr([1, -3], 'uint8').data).toEqual(new Uint8Array([1, 253]));
    expect(arr([1.9, -1.9], 'int16').data).toEqual(new Int16Array([1, -1]));
    expect(arr([]).shape).toEqual([0]);
    expect(arr([[], []]).shape).toEqual([2, 0]);
    expect([arr(3).shape, arr(3).dtype]).toEqual([[], 'int32']);
    expect(arr(new Float32Array([1.5, 2])).dtype).toBe('float32');
    expect(arr(new Uint16Array([1, 2]), 'float64').data).toEqual(new Float64Array([1, 2]));
  });

  it('array.from names the element that makes lists ragged or is not a number', () => {
    expectError(
      'array.from',
      [
        [
          [1, 2, 3],
          [4, 5],
        ],
      ],
      'array.from: the lists are ragged: element [1] is a list of 2 where the first elements give shape [2, 3].',
    );
    expectError(
      'array.from',
      [[[1, 2], 3]],
      'array.from: the lists are ragged: element [1] is number 3 where the first elements give shape [2, 2].',
    );
    expectError(
      'array.from',
      [
        [
          [1, [2]],
          [3, 4],
        ],
      ],
      'array.from: element [0][1] is an array, not a number (the lists are ragged: the first elements give shape [2, 2]).',
    );
    expectError('array.from', [[1, true]], 'array.from: element [1] is boolean true, not a number.');
    expectError('array.from', ['abc'], 'array.from expects nested lists of numbers, got the string "abc".');
    expectError(
      'array.from',
      [[1], 'float16'],
      'array.from: unknown dtype "float16": use one of float64, float32, int32, int16, int8, uint32, uint16, uint8.',
    );
  });

  it('array.zeros and array.ones', () => {
    const z = call('array.zeros', [[2, 3]]);
    expect([z.dtype, z.shape, Array.from(z.data)]).toEqual(['float64', [2, 3], [0, 0, 0, 0, 0, 0]]);
    const o = call('array.ones', [4, 'uint16']);
    expect([o.dtype, o.shape, Array.from(o.data)]).toEqual(['uint16', [4], [1, 1, 1, 1]]);
    expectError(
      'array.ones',
      [[2, -1]],
      'array.ones: shape must be a list of non-negative integers such as [2, 3], got [2,-1].',
    );
    expectError('array.zeros', [[2], 'complex128'], /^array\.zeros: unknown dtype "complex128": use one of float64/);
    expectError(
      'array.zeros',
      [[100_000, 100_000]],
      'array.zeros: shape [100000, 100000] has 10000000000 elements, more than the 50000000 allowed in one chunk; use smaller chunks.',
    );
  });

  it('array.arange as numpy.arange', () => {
    const ar = (...args: unknown[]) => call('array.arange', args);
    expect([ar(5).dtype, list(ar(5))]).toEqual(['int32', [0, 1, 2, 3, 4]]);
    expect(list(ar(2, 10, 3))).toEqual([2, 5, 8]);
    expect(list(ar(10, 0, -3))).toEqual([10, 7, 4, 1]);
    expect(list(ar(5, 2))).toEqual([]);
    expect([ar(0, 1, 0.25).dtype, list(ar(0, 1, 0.25))]).toEqual(['float64', [0, 0.25, 0.5, 0.75]]);
    expect(call('array.arange', [3], { dtype: 'float32' }).dtype).toBe('float32');
    expectError('array.arange', [0, 5, 0], 'array.arange: step must not be zero.');
    expectError('array.arange', ['5'], 'array.arange expects a finite number as stop, got the string "5".');
  });

  it('array.random is uniform in [0, 1) and the same for the same seed', () => {
    const a = rand([200, 500], 42);
    expect([a.dtype, a.shape]).toEqual(['float64', [200, 500]]);
    expect(rand([200, 500], 42).data).toEqual(a.data);
    expect(rand([10], 43).data).not.toEqual(rand([10], 42).data);
    expect(rand([10], 2 ** 32 + 42).data).not.toEqual(rand([10], 42).data);
    let min = 1;
    let max = 0;
    let sum = 0;
    const bins = new Array<number>(10).fill(0);
    for (const x of a.data) {
      min = Math.min(min, x);
      max = Math.max(max, x);
      sum += x;
      bins[Math.floor(x * 10)]++;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    expect(Math.abs(sum / a.size - 0.5)).toBeLessThan(0.005);
    for (const b of bins) expect(Math.abs(b - 10_000)).toBeLessThan(500);
    expectError(
      'array.random',
      [[3], 1.5],
      'array.random: seed must be an integer (the same seed gives the same numbers), got number 1.5.',
    );
  });

  it('array.randint gives int32 in [low, high), every value, the same for the same seed', () => {
    const a = call('array.randint', [-3, 4, [10_000], 7]);
    expect(a.dtype).toBe('int32');
    expect(new Set(a.data)).toEqual(new Set([-3, -2, -1, 0, 1, 2, 3]));
    expect(call('array.randint', [-3, 4, [10_000], 7]).data).toEqual(a.data);
    const wide = call('array.randint', [-(2 ** 31), 2 ** 31, [1000], 1]);
    expect(Math.min(...wide.data)).toBeLessThan(-(2 ** 30));
    expectError(
      'array.randint',
      [5, 5, [2], 1],
      'array.randint: low (5) must be less than high (5); high is excluded.',
    );
    expectError(
      'array.randint',
      [0, 2 ** 32, [2], 1],
      'array.randint: low and high must give int32 values (-2147483648 to 2147483648 excluded), got 0 and 4294967296.',
    );
  });
});

describe('layout', () => {
  const grid = () => call('array.reshape', [call('array.arange', [12]), [3, 4]]);

  it('array.slice follows numpy, negative indexes and steps included', () => {
    const a = call('array.arange', [10]);
    const s = (...slices: unknown[]) => list(call('array.slice', [a, slices]));
    expect(s([2, 8, 2])).toEqual([2, 4, 6]);
    expect(s([-3, null])).toEqual([7, 8, 9]);
    expect(s([null, null, -1])).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    expect(s([8, 2, -2])).toEqual([8, 6, 4]);
    expect(s([-1, -11, -1])).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    expect(s([null, null, -3])).toEqual([9, 6, 3, 0]);
    expect(s([5, 100])).toEqual([5, 6, 7, 8, 9]);
    expect(s([-100, 3])).toEqual([0, 1, 2]);
    expect(s([3, 3])).toEqual([]);
    expect(s([7, 2])).toEqual([]);
    expect(s(-1)).toEqual(9);
    expect(s(null)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const g = grid();
    expect(
      list(
        call('array.slice', [
          g,
          [
            [1, null],
            [null, null, 2],
          ],
        ]),
      ),
    ).toEqual([
      [4, 6],
      [8, 10],
    ]);
    expect(list(call('array.slice', [g, [1]]))).toEqual([4, 5, 6, 7]);
    expect(list(call('array.slice', [g, [null, -1]]))).toEqual([3, 7, 11]);
    expect(
      list(
        call('array.slice', [
          g,
          [
            [null, null, -1],
            [3, 0, -2],
          ],
        ]),
      ),
    ).toEqual([
      [11, 9],
      [7, 5],
      [3, 1],
    ]);
    expect(call('array.slice', [g, [[0, 0], null]]).shape).toEqual([0, 4]);
  });

  it('array.slice matches a reference on a 3-d array', () => {
    const a = rand([4, 5, 6], 3);
    const out = call('array.slice', [a, [[-1, 0, -2], 2, [1, null, 2]]]);
    const expected: number[] = [];
    for (const i of [3, 1]) for (const k of [1, 3, 5]) expected.push(at(a, [i, 2, k]));
    expect(out.shape).toEqual([2, 3]);
    expect(Array.from(out.data)).toEqual(expected);
  });

  it('array.slice errors say what a slice is', () => {
    const g = grid();
    expectError(
      'array.slice',
      [g, [null, null, null]],
      'array.slice: 3 slices for a 2-d array of shape [3, 4]; give at most 2.',
    );
    expectError('array.slice', [g, [[0, 2, 0]]], 'array.slice: slices[0] has step 0; a step must not be zero.');
    expectError('array.slice', [g, [3]], 'array.slice: index 3 is out of range for axis 0 of length 3.');
    expectError(
      'array.slice',
      [g, [[1]]],
      /^array\.slice: slices\[0\] is \[1\]; give one entry per axis: null \(the whole axis\), an index/,
    );
    expectError('array.slice', [g, 'a[1:]'], /^array\.slice: slices must be a list with one entry per axis/);
  });

  it('array.transpose reverses or permutes axes, negative axes included', () => {
    expect(list(call('array.transpose', [grid()]))).toEqual([
      [0, 4, 8],
      [1, 5, 9],
      [2, 6, 10],
      [3, 7, 11],
    ]);
    const a = rand([2, 3, 4], 5);
    const t = call('array.transpose', [a, [1, -1, 0]]);
    expect(t.shape).toEqual([3, 4, 2]);
    for (const [j, k, i] of indices(t.shape)) expect(at(t, [j, k, i])).toBe(at(a, [i, j, k]));
    expectError(
      'array.transpose',
      [a, [0, 0, 1]],
      'array.transpose: axes [0,0,1] repeat an axis; give a permutation of 0 to 2.',
    );
    expectError(
      'array.transpose',
      [a, [0, 1]],
      'array.transpose: axes must list each of the 3 axes once (a permutation of 0 to 2), got [0,1].',
    );
  });

  it('array.reshape keeps the elements and infers one -1', () => {
    const r = call('array.reshape', [grid(), [2, -1]]);
    expect([r.shape, list(r)]).toEqual([
      [2, 6],
      [
        [0, 1, 2, 3, 4, 5],
        [6, 7, 8, 9, 10, 11],
      ],
    ]);
    expect(call('array.reshape', [grid(), 12]).shape).toEqual([12]);
    expectError(
      'array.reshape',
      [grid(), [5, -1]],
      'array.reshape: cannot reshape an array of 12 elements (shape [3, 4]) into shape [5, -1].',
    );
    expectError(
      'array.reshape',
      [grid(), [4, 4]],
      'array.reshape: cannot reshape an array of 12 elements (shape [3, 4]) into shape [4, 4].',
    );
    expectError(
      'array.reshape',
      [grid(), [-1, -1]],
      /^array\.reshape: shape must be a list of non-negative integers with at most one -1/,
    );
  });

  it('array.concatenate along any axis, promoting mixed dtypes', () => {
    const a = arr([
      [1, 2],
      [3, 4],
    ]);
    const b = arr([[5, 6]], 'int8');
    expect(list(call('array.concatenate', [[a, b]]))).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    expect(call('array.concatenate', [[a, b]]).dtype).toBe('int32');
    expect(list(call('array.concatenate', [[a, arr([[9], [8]])]], { axis: 1 }))).toEqual([
      [1, 2, 9],
      [3, 4, 8],
    ]);
    expect(list(call('array.concatenate', [[a, arr([[9], [8]])], -1]))).toEqual([
      [1, 2, 9],
      [3, 4, 8],
    ]);
    expect(call('array.concatenate', [[arr([1], 'uint32'), arr([1], 'int8')]]).dtype).toBe('float64');
    expect(call('array.concatenate', [[arr([1], 'uint8'), arr([2], 'uint8')]]).dtype).toBe('uint8');
    expect(call('array.concatenate', [[arr([1.5]), arr([1], 'int8')]]).data).toEqual(new Float64Array([1.5, 1]));
    expectError(
      'array.concatenate',
      [[a, arr([[1, 2, 3]])]],
      'array.concatenate: array 1 has shape [1, 3] but array 0 has [2, 2]; all dimensions except axis 0 must match.',
    );
    expectError('array.concatenate', [[]], 'array.concatenate expects a non-empty list of arrays, got an empty list.');
    expectError(
      'array.concatenate',
      [[a], 2],
      'array.concatenate: axis 2 is out of range for a 2-d array: use -2 to 1, or null for all axes.',
    );
  });

  it('array.matmul matches the triple loop and names both shapes on a mismatch', () => {
    const a = rand([5, 7], 1);
    const b = rand([7, 3], 2);
    const c = call('array.matmul', [a, b]);
    expect([c.dtype, c.shape]).toEqual(['float64', [5, 3]]);
    for (const [i, j] of indices([5, 3])) {
      let s = 0;
      for (let p = 0; p < 7; p++) s += at(a, [i, p]) * at(b, [p, j]);
      expectClose(at(c, [i, j]), s);
    }
    const ints = call('array.matmul', [
      arr([
        [1, 2],
        [3, 4],
      ]),
      arr(
        [
          [5, 6],
          [7, 8],
        ],
        'int8',
      ),
    ]);
    expect([ints.dtype, list(ints)]).toEqual([
      'int32',
      [
        [19, 22],
        [43, 50],
      ],
    ]);
    expectError(
      'array.matmul',
      [
        arr([
          [1, 2, 3],
          [4, 5, 6],
        ]),
        call('array.ones', [[4, 5]]),
      ],
      "array.matmul: shapes [2, 3] and [4, 5] do not align: the first's columns (3) must equal the second's rows (4).",
    );
    expectError(
      'array.matmul',
      [arr([1, 2, 3]), a],
      'array.matmul multiplies 2-d arrays, got shapes [3] and [5, 7]; reshape with array.reshape first.',
    );
  });

  it('array.astype, array.shape and array.to_list', () => {
    expect(call('array.astype', [arr([1.7, -1.7, 300, NaN]), 'int8']).data).toEqual(new Int8Array([1, -1, 44, 0]));
    expect(call('array.shape', [grid()])).toEqual([3, 4]);
    expect(list(arr([[[1]], [[2]]]))).toEqual([[[1]], [[2]]]);
    expect(list(arr(5))).toBe(5);
    expect(list(call('array.zeros', [[2, 0]]))).toEqual([[], []]);
  });
});

describe('elementwise', () => {
  const pyMod = (x: number, y: number) => x - Math.floor(x / y) * y;
  const refs: Record<string, (x: number, y: number) => number> = {
    add: (x, y) => x + y,
    sub: (x, y) => x - y,
    mul: (x, y) => x * y,
    div: (x, y) => x / y,
    pow: (x, y) => x ** y,
    mod: pyMod,
    eq: (x, y) => Number(x === y),
    ne: (x, y) => Number(x !== y),
    lt: (x, y) => Number(x < y),
    le: (x, y) => Number(x <= y),
    gt: (x, y) => Number(x > y),
    ge: (x, y) => Number(x >= y),
  };
  const x = arr([
    [-3.5, -1, 0, 2.25],
    [7, 2, 1.5, -4],
  ]);
  const y = arr([
    [2, -3, 1.5, 4],
    [-2.5, 2, 1.5, 0.5],
  ]);

  for (const [name, f] of Object.entries(refs)) {
    it(`array.${name} on two arrays, and a number on either side`, () => {
      const op = `array.${name}`;
      expectAllClose(
        call(op, [x, y]).data,
        Array.from(x.data, (v, i) => f(v, y.data[i])),
      );
      expectAllClose(
        call(op, [x, 1.5]).data,
        Array.from(x.data, (v) => f(v, 1.5)),
      );
      expectAllClose(
        call(op, [2, y]).data,
        Array.from(y.data, (v) => f(2, v)),
      );
      expect(call(op, [x, y]).shape).toEqual([2, 4]);
    });
  }

  it('integer operands give int32 (div gives float64, comparisons uint8), floats give float64', () => {
    const i32 = arr([1, 2, 3]);
    const i16 = arr([1, 2, 3], 'int16');
    const u8 = arr([1, 2, 3], 'uint8');
    const f32 = arr([1, 2, 3], 'float32');
    const dt = (name: string, a: unknown, b: unknown) => call(`array.${name}`, [a, b]).dtype;
    expect(dt('add', i32, i32)).toBe('int32');
    expect(dt('add', i16, u8)).toBe('int32');
    expect(dt('mul', u8, 2)).toBe('int32');
    expect(dt('mul', u8, 2.5)).toBe('float64');
    expect(dt('sub', 2 ** 40, u8)).toBe('float64');
    expect(dt('add', f32, f32)).toBe('float64');
    expect(dt('add', f32, i32)).toBe('float64');
    expect(dt('div', i32, i32)).toBe('float64');
    expect(dt('mod', i32, 2)).toBe('int32');
    expect(dt('pow', i32, 2)).toBe('int32');
    expect(dt('lt', f32, i32)).toBe('uint8');
    expect(call('array.neg', [u8]).dtype).toBe('int32');
    expect(call('array.abs', [f32]).dtype).toBe('float64');
    expect(call('array.sqrt', [i32]).dtype).toBe('float64');
  });

  it('int32 results wrap on overflow, exactly, as numpy int32 does', () => {
    const big = arr([2 ** 31 - 1, -(2 ** 31), 46341, 3]);
    expect(call('array.add', [big, 1]).data).toEqual(new Int32Array([-(2 ** 31), -(2 ** 31) + 1, 46342, 4]));
    expect(call('array.mul', [big, big]).data).toEqual(new Int32Array([1, 0, Math.imul(46341, 46341), 9]));
    expect(call('array.mul', [arr([123456789]), 987654321]).data).toEqual(
      new Int32Array([Math.imul(123456789, 987654321)]),
    );
    expect(call('array.pow', [arr([3, 2, -2, 7]), arr([40, 31, 3, 0])]).data).toEqual(
      new Int32Array([Number(3n ** 40n % 2n ** 32n) | 0, -(2 ** 31), -8, 1]),
    );
    expect(call('array.neg', [arr([-(2 ** 31)])]).data).toEqual(new Int32Array([-(2 ** 31)]));
    expect(call('array.add', [arr([4_000_000_000], 'uint32'), arr([1], 'uint32')]).data).toEqual(
      new Int32Array([4_000_000_001 | 0]),
    );
  });

  it('mod has the sign of the divisor; integer % 0 is 0; float / 0 is infinite', () => {
    expect(list(call('array.mod', [arr([-7, 7, -7, 7]), arr([3, -3, -3, 0])]))).toEqual([2, -2, -1, 0]);
    expect(list(call('array.mod', [arr([-7.5, 7.5]), 2]))).toEqual([0.5, 1.5]);
    expect(Array.from(call('array.mod', [arr([1.5]), 0]).data)).toEqual([NaN]);
    expect(list(call('array.div', [arr([1, -1, 0]), 0]))).toEqual([Infinity, -Infinity, NaN]);
  });

  it('integers to negative integer powers are an error, floats are not', () => {
    expectError(
      'array.pow',
      [arr([2, 3]), -1],
      'array.pow: integers to negative integer powers are not integers; convert with array.astype(a, "float64") first.',
    );
    expect(list(call('array.pow', [arr([2, 4], 'float64'), -1]))).toEqual([0.5, 0.25]);
    expect(list(call('array.pow', [arr([2, 4]), -0.5]))).toEqual([2 ** -0.5, 0.5]);
  });

  it('comparisons give 0 and 1, NaN compares unequal', () => {
    const a = arr([1, NaN, 3]);
    expect(call('array.eq', [a, a]).data).toEqual(new Uint8Array([1, 0, 1]));
    expect(call('array.ne', [a, a]).data).toEqual(new Uint8Array([0, 1, 0]));
    expect(call('array.ge', [2, a]).data).toEqual(new Uint8Array([1, 0, 0]));
  });

  it('unary ops match Math', () => {
    const a = arr([
      [-2.5, 0],
      [1, 4],
    ]);
    const cases: [string, (x: number) => number][] = [
      ['neg', (v) => -v],
      ['abs', Math.abs],
      ['sqrt', Math.sqrt],
      ['exp', Math.exp],
      ['log', Math.log],
    ];
    for (const [name, f] of cases) {
      const out = call(`array.${name}`, [a]);
      expect(out.shape).toEqual([2, 2]);
      expect(Array.from(out.data)).toEqual(Array.from(a.data, f));
    }
    expect(list(call('array.abs', [arr([-3, 3], 'int8')]))).toEqual([3, 3]);
  });

  it('shapes must be equal, and at least one operand an array', () => {
    expectError(
      'array.add',
      [call('array.ones', [[2, 3]]), call('array.ones', [[3, 2]])],
      'array.add: shapes [2, 3] and [3, 2] differ; elementwise ops need equal shapes, or a number on one side.',
    );
    expectError(
      'array.mul',
      [call('array.ones', [[2]]), call('array.ones', [[2, 1]])],
      'array.mul: shapes [2] and [2, 1] differ; elementwise ops need equal shapes, or a number on one side.',
    );
    expectError('array.add', [1, 2], 'array.add: a or b must be an NDArray; got two numbers.');
    expectError('array.lt', [arr([1]), '2'], 'array.lt expects an NDArray or a number as b, got the string "2".');
    expectError(
      'array.sqrt',
      [4],
      'array.sqrt expects an NDArray as a, got number 4; make one from nested lists with array.from.',
    );
  });

  it('takes arrays in their JSON form', () => {
    const json = JSON.parse(JSON.stringify(arr([1, 2, 3], 'int16')));
    expect(list(call('array.add', [json, 1]))).toEqual([2, 3, 4]);
  });
});

describe('reductions', () => {
  const floats = rand([3, 4, 5], 11);
  const ints = call('array.randint', [-50, 50, [3, 4, 5], 12]);

  for (const [label, a] of [
    ['floats', floats],
    ['ints', ints],
  ] as const) {
    it(`sum, mean, min, max, var and std of ${label} match the reference along every axis`, () => {
      const all: number[] = Array.from(a.data as ArrayLike<number>);
      const cases: [string, (xs: number[]) => number, Record<string, unknown>][] = [
        ['sum', refSum, {}],
        ['mean', refMean, {}],
        ['min', refMin, {}],
        ['max', refMax, {}],
        ['var', refVar(0), {}],
        ['var', refVar(1), { ddof: 1 }],
        ['std', (xs) => Math.sqrt(refVar(0)(xs)), {}],
        ['std', (xs) => Math.sqrt(refVar(2)(xs)), { ddof: 2 }],
      ];
      for (const [name, f, kw] of cases) {
        const op = `array.${name}`;
        const whole = call(op, [a], kw);
        expect(typeof whole).toBe('number');
        expectClose(whole, f(all));
        expectClose(call(op, [a, null], kw), f(all));
        for (const axis of [0, 1, 2, -1, -3]) {
          const out = call(op, [a], { axis, ...kw });
          const norm = axis < 0 ? axis + 3 : axis;
          expect(out.shape).toEqual(a.shape.filter((_: number, i: number) => i !== norm));
          expectAllClose(out.data, alongAxis(a, norm, f));
        }
      }
    });
  }

  it('sum, mean, var, std along an axis are float64; min and max keep the dtype', () => {
    const a = arr(
      [
        [1, 5],
        [3, 2],
      ],
      'int16',
    );
    for (const name of ['sum', 'mean', 'var', 'std']) expect(call(`array.${name}`, [a, 0]).dtype).toBe('float64');
    for (const name of ['min', 'max']) expect(call(`array.${name}`, [a, 0]).dtype).toBe('int16');
    expect(list(call('array.min', [a, 1]))).toEqual([1, 2]);
  });

  it('empty arrays: sum 0, mean and var NaN, min an error; NaN wins min and max', () => {
    const empty = call('array.zeros', [[0]]);
    expect(call('array.sum', [empty])).toBe(0);
    expect(call('array.mean', [empty])).toBeNaN();
    expect(call('array.var', [empty])).toBeNaN();
    expect(call('array.var', [arr([1, 2])], { ddof: 2 })).toBeNaN();
    expectError(
      'array.min',
      [empty],
      'array.min of an empty array is undefined (axis null of shape [0] has no elements).',
    );
    expectError(
      'array.max',
      [call('array.zeros', [[2, 0]]), 1],
      'array.max of an empty array is undefined (axis 1 of shape [2, 0] has no elements).',
    );
    expect(call('array.max', [call('array.zeros', [[0, 2]]), 1]).shape).toEqual([0]);
    expect(call('array.min', [arr([1, NaN, -1])])).toBeNaN();
    expect(call('array.max', [arr([NaN, 1])])).toBeNaN();
  });

  it('bad axes and ddof say what is allowed', () => {
    const a = call('array.ones', [[2, 3]]);
    expectError(
      'array.sum',
      [a, 2],
      'array.sum: axis 2 is out of range for a 2-d array: use -2 to 1, or null for all axes.',
    );
    expectError(
      'array.mean',
      [a, -3],
      'array.mean: axis -3 is out of range for a 2-d array: use -2 to 1, or null for all axes.',
    );
    expectError('array.max', [a, 0.5], 'array.max: axis must be an integer or null (all axes), got number 0.5.');
    expectError('array.sum', [arr(3), 0], 'array.sum: a 0-d array has no axis 0; use null.');
    expectError(
      'array.var',
      [a],
      'array.var: ddof must be a non-negative number (0 for the population, 1 for the sample variance), got number -1.',
      { ddof: -1 },
    );
  });

  it('keeps full precision far from zero, where the one-pass sum of squares does not', () => {
    const a = call('array.add', [rand([10_000], 3), 1e6]);
    const xs = Array.from(a.data as Float64Array);
    const n = xs.length;
    const exactVar = refVar(0)(xs);
    expectClose(call('array.var', [a]), exactVar, 1e-12);
    const naive = xs.reduce((s, x) => s + x * x, 0) / n - (xs.reduce((s, x) => s + x, 0) / n) ** 2;
    expect(Math.abs(naive - exactVar) / exactVar).toBeGreaterThan(1e-6);
  });
});

describe('moments: reductions across chunks', () => {
  const sizes = [1, 7, 1000, 33];
  const finals = ['sum', 'mean', 'min', 'max', 'var', 'std', 'count'] as const;
  const moments = (a: NDArray, axis?: number) => call('array.moments', axis === undefined ? [a] : [a, axis]);
  const combine = (parts: unknown[]) => call('array.combine_moments', [parts]);
  const finalize = (p: unknown, what: string, ddof?: number) =>
    call('array.finalize', ddof === undefined ? [p, what] : [p, what, ddof]);

  for (const offset of [0, 1e6]) {
    it(`mean, var and std over chunks of ${sizes.join(', ')} equal the one-array values to 1e-12, offset ${offset}`, () => {
      for (let seed = 0; seed < 20; seed++) {
        const chunks = sizes.map((n, i) => call('array.add', [rand([n], seed * 10 + i), offset]));
        const whole = call('array.concatenate', [chunks]);
        const xs = Array.from(whole.data as Float64Array);
        const flat = combine(chunks.map((c) => moments(c)));
        const tree = combine([
          combine([moments(chunks[2]), moments(chunks[0])]),
          combine([moments(chunks[3]), moments(chunks[1])]),
        ]);
        for (const partial of [flat, tree]) {
          expect(finalize(partial, 'count')).toBe(1041);
          expectClose(finalize(partial, 'mean'), call('array.mean', [whole]));
          expectClose(finalize(partial, 'mean'), refMean(xs));
          expectClose(finalize(partial, 'var'), call('array.var', [whole]));
          expectClose(finalize(partial, 'var'), refVar(0)(xs));
          expectClose(finalize(partial, 'var', 1), call('array.var', [whole], { ddof: 1 }));
          expectClose(finalize(partial, 'std'), call('array.std', [whole]));
          expectClose(finalize(partial, 'std', 1), Math.sqrt(refVar(1)(xs)));
          expectClose(finalize(partial, 'sum'), refSum(xs));
          expect(finalize(partial, 'min')).toBe(refMin(xs));
          expect(finalize(partial, 'max')).toBe(refMax(xs));
        }
      }
    });
  }

  it('along an axis, partials of chunks split down that axis merge to the one-array result', () => {
    const rows = [1, 7, 50, 3];
    const chunks = rows.map((r, i) => call('array.add', [rand([r, 4], 100 + i), 1e6]));
    const whole = call('array.concatenate', [chunks, 0]);
    const merged = combine(chunks.map((c) => moments(c, 0)));
    expect(merged.count).toBeInstanceOf(NDArray);
    expect(merged.mean.shape).toEqual([4]);
    expectAllClose(finalize(merged, 'mean').data, call('array.mean', [whole, 0]).data);
    expectAllClose(finalize(merged, 'var').data, alongAxis(whole, 0, refVar(0)));
    expectAllClose(finalize(merged, 'std', 1).data, call('array.std', [whole, 0], { ddof: 1 }).data);
    expectAllClose(finalize(merged, 'max').data, call('array.max', [whole, 0]).data);
    expect(Array.from(finalize(merged, 'count').data)).toEqual([61, 61, 61, 61]);
    // The same through a negative axis on a 3-d array.
    const cube = rand([3, 2, 5], 9);
    const parts = [
      call('array.slice', [cube, [null, null, [0, 2]]]),
      call('array.slice', [cube, [null, null, [2, null]]]),
    ].map((c) => moments(c, -1));
    expectAllClose(finalize(combine(parts), 'var').data, call('array.var', [cube, -1]).data);
  });

  it('partials survive JSON and MessagePack, and an empty chunk is skipped', () => {
    const chunks = [rand([10], 1), call('array.zeros', [[0]]), rand([5], 2)];
    const whole = call('array.concatenate', [chunks]);
    const viaJson = chunks.map((c) => JSON.parse(JSON.stringify(moments(c))));
    expect(viaJson[1]).toEqual({ count: 0, mean: null, mean_lo: 0, m2: 0, min: null, max: null, sum: 0 });
    expectClose(finalize(combine(viaJson), 'var'), call('array.var', [whole]));
    const viaPack = chunks.map((c) => packr.unpack(packr.pack(moments(c))));
    expectClose(finalize(combine(viaPack), 'std'), call('array.std', [whole]));
    const axisParts = [rand([2, 3], 1), rand([4, 3], 2)].map((c) => JSON.parse(JSON.stringify(moments(c, 0))));
    expect(finalize(combine(axisParts), 'mean').shape).toEqual([3]);
    const noLo = { ...moments(rand([4], 1)) };
    delete noLo.mean_lo;
    expectClose(finalize(combine([noLo, moments(rand([3], 2))]), 'count'), 7);
    expect(finalize(combine([viaJson[1]]), 'mean')).toBeNaN();
  });

  it('bad partials and requests say what is expected', () => {
    const p = moments(arr([1, 2, 3]));
    expectError(
      'array.combine_moments',
      [[]],
      'array.combine_moments expects a non-empty list of partials from array.moments, got an empty list.',
    );
    expectError(
      'array.combine_moments',
      [[p, moments(arr([[1, 2]]), 0)]],
      'array.combine_moments: partial 1 holds arrays of shape [2] but partial 0 holds numbers (axis null); merge partials taken over the same axis of chunks that agree on the other axes.',
    );
    expectError(
      'array.combine_moments',
      [[moments(arr([[1, 2]]), 0), moments(arr([[1, 2, 3]]), 0)]],
      /^array\.combine_moments: partial 1 holds arrays of shape \[3\] but partial 0 holds arrays of shape \[2\]/,
    );
    const { m2: _, ...noM2 } = p;
    expectError(
      'array.combine_moments',
      [[p, noM2]],
      'array.combine_moments: partial 1 has no field "m2"; it must be a partial from array.moments: {count, mean, mean_lo, m2, min, max, sum}.',
    );
    expectError(
      'array.finalize',
      [arr([1]), 'mean'],
      'array.finalize: partial must be a partial from array.moments: {count, mean, mean_lo, m2, min, max, sum}, got an object.',
    );
    expectError(
      'array.finalize',
      [p, 'median'],
      'array.finalize: what must be one of sum, mean, min, max, var, std, count; got the string "median".',
    );
    expectError('array.finalize', [p, 'mean', 1], 'array.finalize: ddof applies to var and std only, not mean.');
    expectError(
      'array.finalize',
      [moments(call('array.zeros', [[0]])), 'min'],
      "array.finalize: min of an empty array is undefined (the partial's count is 0).",
    );
    for (const what of finals) expect(typeof finalize(p, what)).toBe('number');
  });
});

describe('the example graph of docs/arrays.md', () => {
  /** A tiny evaluator of weft's graph format: $op, $ref, $literal, arrays and plain objects. */
  function evaluate(graph: Record<string, unknown>, key: string, memo = new Map<string, unknown>()): unknown {
    const node = (n: unknown): unknown => {
      if (Array.isArray(n)) return n.map(node);
      if (typeof n !== 'object' || n === null) return n;
      const o = n as Record<string, unknown>;
      if ('$literal' in o) return o.$literal;
      if ('$ref' in o) return evaluate(graph, o.$ref as string, memo);
      if ('$op' in o) {
        const kwargs = Object.fromEntries(
          Object.entries((o.kwargs ?? {}) as Record<string, unknown>).map(([k, v]) => [k, node(v)]),
        );
        return call(o.$op as string, ((o.args ?? []) as unknown[]).map(node), kwargs);
      }
      return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, node(v)]));
    };
    if (!memo.has(key)) memo.set(key, node(graph[key]));
    return memo.get(key);
  }

  it('runs and agrees with the one-array computation', () => {
    const doc = readFileSync(new URL('../../docs/arrays.md', import.meta.url), 'utf8');
    const block = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1])).find((b) => b.graph);
    const { graph, keys } = block as { graph: Record<string, unknown>; keys: string[] };
    const [mean, std, columnSums] = keys.map((k) => evaluate(graph, k)) as [number, number, NDArray];
    const whole = call('array.concatenate', [[rand([1000], 0), rand([7], 1), arr([0.5, 1.5, 2.5, 3.5])]]);
    expectClose(mean, call('array.mean', [whole]));
    expectClose(std, call('array.std', [whole], { ddof: 1 }));
    expect(columnSums.shape).toEqual([4]);
    expectAllClose(columnSums.data, alongAxis(call('array.reshape', [rand([1000], 0), [250, 4]]), 0, refSum));
  });
});
