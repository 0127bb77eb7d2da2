/**
 * The array.* ops that make arrays: array.from (nested lists, a typed array,
 * an NDArray or a number, with int32/float64 inference), zeros, ones, arange,
 * and the seeded random and randint (prng.ts). Each checks the requested size
 * against the chunk limits (args.ts) before allocating.
 */
import { OpArgumentError, defineOp, type OpDefinition } from '../registry.ts';
import { typeName } from '../builtin.ts';
import {
  NDArray,
  allocate,
  dtypeOfTypedArray,
  isNDArrayJSON,
  sizeOf,
  type DType,
  type NumericArray,
} from '../../shared/values/ndarray.ts';
import {
  INT32_MAX,
  INT32_MIN,
  MAX_NDIM,
  bind,
  checkSize,
  dtypeArg,
  fmt,
  intArg,
  ndarray,
  op1,
  shapeArg,
} from './args.ts';
import { astype } from './layout.ts';
import { Xoshiro128 } from './prng.ts';

/** Nested lists of numbers (or a typed array, an NDArray, a number) to an NDArray. */
function fromNested(op: string, data: unknown, dtype: DType | null): NDArray {
  if (data instanceof NDArray || isNDArrayJSON(data)) return astype(ndarray(op, data, 'data'), dtype);
  const own = dtypeOfTypedArray(data);
  if (own !== null) {
    const typed = data as NumericArray;
    checkSize(op, [typed.length]);
    const out = allocate(dtype ?? own, typed.length);
    out.set(typed);
    return new NDArray(dtype ?? own, [typed.length], out);
  }
  if (typeof data === 'number') {
    const d = dtype ?? (Number.isInteger(data) && data >= INT32_MIN && data <= INT32_MAX ? 'int32' : 'float64');
    const out = allocate(d, 1);
    out[0] = data;
    return new NDArray(d, [], out);
  }
  if (!Array.isArray(data)) throw new OpArgumentError(`${op} expects nested lists of numbers, got ${typeName(data)}.`);
  // The shape is read off the first element at each depth; every other list must agree.
  const shape: number[] = [];
  for (let v: unknown = data; Array.isArray(v); v = v[0]) {
    shape.push(v.length);
    if (v.length === 0 || shape.length > MAX_NDIM) break;
  }
  checkSize(op, shape);
  const flat = new Float64Array(sizeOf(shape));
  const path: number[] = [];
  const at = () => (path.length === 0 ? 'the outer list' : `element ${path.map((i) => `[${i}]`).join('')}`);
  let pos = 0;
  let allInt32 = true;
  const walk = (v: unknown, depth: number): void => {
    if (!Array.isArray(v) || v.length !== shape[depth]) {
      throw new OpArgumentError(
        `${op}: the lists are ragged: ${at()} is ${Array.isArray(v) ? `a list of ${v.length}` : typeName(v)} where the first elements give shape ${fmt(shape)}.`,
      );
    }
    if (depth === shape.length - 1) {
      for (let i = 0; i < v.length; i++) {
        const x = v[i];
        if (typeof x !== 'number') {
          path.push(i);
          throw new OpArgumentError(
            `${op}: ${at()} is ${typeName(x)}, not a number${Array.isArray(x) ? ` (the lists are ragged: the first elements give shape ${fmt(shape)})` : ''}.`,
          );
        }
        if (allInt32 && !(Number.isInteger(x) && x >= INT32_MIN && x <= INT32_MAX)) allInt32 = false;
        flat[pos++] = x;
      }
      return;
    }
    for (let i = 0; i < v.length; i++) {
      path.push(i);
      walk(v[i], depth + 1);
      path.pop();
    }
  };
  walk(data, 0);
  const d = dtype ?? (allInt32 ? 'int32' : 'float64');
  if (d === 'float64') return new NDArray(d, shape, flat);
  const out = allocate(d, flat.length);
  out.set(flat);
  return new NDArray(d, shape, out);
}

function filled(shape: number[], dtype: DType, value: number): NDArray {
  const data = allocate(dtype, sizeOf(shape));
  if (value !== 0) data.fill(value);
  return new NDArray(dtype, shape, data);
}

function arange(op: string, args: unknown[], kwargs: Record<string, unknown>): NDArray {
  const [a, b, c, dt] = bind(op, args, kwargs, ['start', 'stop', 'step', 'dtype'], 1);
  const num = (v: unknown, what: string) => {
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new OpArgumentError(`${op} expects a finite number as ${what}, got ${typeName(v)}.`);
    return v;
  };
  // As numpy and Python's range: one number is the stop.
  const [start, stop] = b === undefined || b === null ? [0, num(a, 'stop')] : [num(a, 'start'), num(b, 'stop')];
  const step = c === undefined || c === null ? 1 : num(c, 'step');
  if (step === 0) throw new OpArgumentError(`${op}: step must not be zero.`);
  const n = Math.max(0, Math.ceil((stop - start) / step));
  checkSize(op, [n]);
  const last = start + (n - 1) * step;
  const ints =
    [start, stop, step].every(Number.isInteger) &&
    Math.min(start, last) >= INT32_MIN &&
    Math.max(start, last) <= INT32_MAX;
  const dtype = dtypeArg(op, dt, ints ? 'int32' : 'float64');
  const data = allocate(dtype, n);
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  return new NDArray(dtype, [n], data);
}

function seedArg(op: string, v: unknown): number {
  if (!Number.isSafeInteger(v))
    throw new OpArgumentError(
      `${op}: seed must be an integer (the same seed gives the same numbers), got ${typeName(v)}.`,
    );
  return v as number;
}

function random(op: string, shapeV: unknown, seedV: unknown): NDArray {
  const shape = shapeArg(op, shapeV);
  const rng = new Xoshiro128(seedArg(op, seedV));
  const data = new Float64Array(sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = rng.double();
  return new NDArray('float64', shape, data);
}

function randint(op: string, lowV: unknown, highV: unknown, shapeV: unknown, seedV: unknown): NDArray {
  const low = intArg(op, lowV, 'low');
  const high = intArg(op, highV, 'high');
  if (low >= high) throw new OpArgumentError(`${op}: low (${low}) must be less than high (${high}); high is excluded.`);
  if (low < INT32_MIN || high > INT32_MAX + 1)
    throw new OpArgumentError(
      `${op}: low and high must give int32 values (${INT32_MIN} to ${INT32_MAX + 1} excluded), got ${low} and ${high}.`,
    );
  const shape = shapeArg(op, shapeV);
  const rng = new Xoshiro128(seedArg(op, seedV));
  const range = high - low;
  // Rejection keeps every value equally likely: 2^32 is not a multiple of most ranges.
  const limit = 2 ** 32 - (2 ** 32 % range);
  const data = new Int32Array(sizeOf(shape));
  for (let i = 0; i < data.length; i++) {
    let u = rng.next();
    while (u >= limit) u = rng.next();
    data[i] = low + (u % range);
  }
  return new NDArray('int32', shape, data);
}

export const createOps: OpDefinition[] = [
  op1(
    'array.from',
    'array.from(data, dtype?): an array from nested lists of numbers (dtype int32 if all are int32 integers, else float64).',
    ['data', 'dtype'],
    1,
    (op, [data, dt]) => fromNested(op, data, dt === undefined || dt === null ? null : dtypeArg(op, dt, 'float64')),
  ),
  op1('array.zeros', 'array.zeros(shape, dtype="float64"): an array of zeros.', ['shape', 'dtype'], 1, (op, [s, dt]) =>
    filled(shapeArg(op, s), dtypeArg(op, dt, 'float64'), 0),
  ),
  op1('array.ones', 'array.ones(shape, dtype="float64"): an array of ones.', ['shape', 'dtype'], 1, (op, [s, dt]) =>
    filled(shapeArg(op, s), dtypeArg(op, dt, 'float64'), 1),
  ),
  defineOp({
    name: 'array.arange',
    description: 'array.arange(start, stop?, step=1, dtype?): evenly spaced values in [start, stop), as numpy.arange.',
    run: (args, kwargs) => arange('array.arange', args, kwargs),
  }),
  op1(
    'array.random',
    'array.random(shape, seed): float64 uniform in [0, 1); the same seed gives the same numbers (xoshiro128**).',
    ['shape', 'seed'],
    2,
    (op, [s, seed]) => random(op, s, seed),
  ),
  op1(
    'array.randint',
    'array.randint(low, high, shape, seed): int32 uniform in [low, high); the same seed gives the same numbers.',
    ['low', 'high', 'shape', 'seed'],
    4,
    (op, [lo, hi, s, seed]) => randint(op, lo, hi, s, seed),
  ),
];
