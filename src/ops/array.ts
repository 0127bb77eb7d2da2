/**
 * Ops over NDArray chunks (src/values/ndarray.ts), named `array.*`: creation,
 * slicing and layout, elementwise arithmetic with scalar broadcasting,
 * reductions, and the moments partial/combine/finalize trio that a tree
 * reduction across chunks needs. docs/arrays.md lists every op and the dtype rules.
 *
 * Kernels are plain loops over typed arrays: no per-element objects. No op
 * writes into an input (reshape shares its input's buffer), so values can be
 * cached and shared between tasks.
 *
 * An array argument is an NDArray, or its JSON form {"$ndarray": ...} (in a
 * graph, wrapped in {"$literal": ...}).
 */
import { OpArgumentError, defineOp, type OpDefinition } from './registry.ts';
import { typeName } from './builtin.ts';
import {
  NDArray,
  NDArrayFormatError,
  allocate,
  dtypeOfTypedArray,
  fromJSONForm,
  isDType,
  isIntegerDType,
  isNDArrayJSON,
  sizeOf,
  stridesOf,
  unknownDTypeMessage,
  type DType,
  type NumericArray,
} from '../values/ndarray.ts';

/** A stored value must fit one Redis string (512 MB); 50M float64 elements are 400 MB. */
export const MAX_ELEMENTS = 50_000_000;
/** numpy's limit on dimensions; it also bounds the recursion of array.from and array.to_list. */
const MAX_NDIM = 32;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

// ---------------------------------------------------------------- arguments

/**
 * Positional and keyword arguments by name: `names` in positional order, the
 * first `required` of them required. Unknown or doubly given names are errors.
 */
function bind(op: string, args: unknown[], kwargs: Record<string, unknown> | undefined, names: readonly string[], required: number): unknown[] {
  const signature = `${op}(${names.join(', ')})`;
  if (args.length > names.length) throw new OpArgumentError(`${op} takes at most ${names.length} argument${names.length === 1 ? '' : 's'}, got ${args.length}: ${signature}.`);
  const values = names.map((_, i) => args[i]);
  for (const [k, v] of Object.entries(kwargs ?? {})) {
    const i = names.indexOf(k);
    if (i < 0) throw new OpArgumentError(`${op} has no argument ${JSON.stringify(k)}: ${signature}.`);
    if (i < args.length) throw new OpArgumentError(`${op}: ${k} is given both as argument ${i + 1} and as a keyword; give it once.`);
    values[i] = v;
  }
  for (let i = 0; i < required; i++) if (values[i] === undefined) throw new OpArgumentError(`${op}: missing argument ${names[i]}: ${signature}.`);
  return values;
}

function ndarray(op: string, v: unknown, what: string): NDArray {
  if (v instanceof NDArray) return v;
  if (isNDArrayJSON(v)) {
    try {
      return fromJSONForm(v);
    } catch (e) {
      if (e instanceof NDArrayFormatError) throw new OpArgumentError(`${op}: ${what} is not a valid array: ${e.message}`);
      throw e;
    }
  }
  throw new OpArgumentError(`${op} expects an NDArray as ${what}, got ${typeName(v)}; make one from nested lists with array.from.`);
}

function fmt(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function dtypeArg(op: string, v: unknown, fallback: DType): DType {
  if (v === undefined || v === null) return fallback;
  if (!isDType(v)) throw new OpArgumentError(`${op}: ${unknownDTypeMessage(v)}`);
  return v;
}

function intArg(op: string, v: unknown, what: string): number {
  if (!Number.isSafeInteger(v)) throw new OpArgumentError(`${op} expects an integer as ${what}, got ${typeName(v)}.`);
  return v as number;
}

function checkSize(op: string, shape: readonly number[]): void {
  if (shape.length > MAX_NDIM) throw new OpArgumentError(`${op}: ${shape.length} dimensions is more than the ${MAX_NDIM} allowed.`);
  const size = sizeOf(shape);
  if (size > MAX_ELEMENTS) throw new OpArgumentError(`${op}: shape ${fmt(shape)} has ${size} elements, more than the ${MAX_ELEMENTS} allowed in one chunk; use smaller chunks.`);
}

/** A shape: a list of non-negative integers, or one integer for a 1-d shape. */
function shapeArg(op: string, v: unknown): number[] {
  const shape = typeof v === 'number' ? [v] : v;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new OpArgumentError(`${op}: shape must be a list of non-negative integers such as [2, 3], got ${Array.isArray(v) ? JSON.stringify(v) : typeName(v)}.`);
  }
  checkSize(op, shape);
  return shape;
}

/** null or absent for all axes, else the axis counted from 0 (negative counts from the end). */
function axisArg(op: string, v: unknown, ndim: number): number | null {
  if (v === undefined || v === null) return null;
  if (!Number.isSafeInteger(v)) throw new OpArgumentError(`${op}: axis must be an integer or null (all axes), got ${typeName(v)}.`);
  return normalizeAxis(op, v as number, ndim);
}

function normalizeAxis(op: string, axis: number, ndim: number): number {
  if (ndim === 0) throw new OpArgumentError(`${op}: a 0-d array has no axis ${axis}; use null.`);
  if (axis < -ndim || axis >= ndim) throw new OpArgumentError(`${op}: axis ${axis} is out of range for a ${ndim}-d array: use ${-ndim} to ${ndim - 1}, or null for all axes.`);
  return axis < 0 ? axis + ndim : axis;
}

// ------------------------------------------------------------------ creation

/** xoshiro128** (Blackman and Vigna), seeded through splitmix32: small, fast, and the same stream on every platform. */
class Xoshiro128 {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    // The low and high 32 bits of the seed seed two splitmix32 streams, so distinct safe-integer seeds give distinct states.
    const lo = splitmix32(seed >>> 0);
    const hi = splitmix32((Math.floor(seed / 2 ** 32) ^ 0x6a09e667) >>> 0);
    this.s0 = lo();
    this.s1 = lo();
    this.s2 = hi();
    this.s3 = hi();
  }

  /** The next 32 random bits as an unsigned integer. */
  next(): number {
    const s1 = this.s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits, as numpy's random_sample. */
  double(): number {
    return ((this.next() >>> 5) * 67108864 + (this.next() >>> 6)) / 9007199254740992;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

function splitmix32(state: number): () => number {
  let a = state | 0;
  return () => {
    a = (a + 0x9e3779b9) | 0;
    let t = a ^ (a >>> 16);
    t = Math.imul(t, 0x21f0aaad);
    t ^= t >>> 15;
    t = Math.imul(t, 0x735a2d97);
    return (t ^ (t >>> 15)) >>> 0;
  };
}

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
      throw new OpArgumentError(`${op}: the lists are ragged: ${at()} is ${Array.isArray(v) ? `a list of ${v.length}` : typeName(v)} where the first elements give shape ${fmt(shape)}.`);
    }
    if (depth === shape.length - 1) {
      for (let i = 0; i < v.length; i++) {
        const x = v[i];
        if (typeof x !== 'number') {
          path.push(i);
          throw new OpArgumentError(`${op}: ${at()} is ${typeName(x)}, not a number${Array.isArray(x) ? ` (the lists are ragged: the first elements give shape ${fmt(shape)})` : ''}.`);
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
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new OpArgumentError(`${op} expects a finite number as ${what}, got ${typeName(v)}.`);
    return v;
  };
  // As numpy and Python's range: one number is the stop.
  const [start, stop] = b === undefined || b === null ? [0, num(a, 'stop')] : [num(a, 'start'), num(b, 'stop')];
  const step = c === undefined || c === null ? 1 : num(c, 'step');
  if (step === 0) throw new OpArgumentError(`${op}: step must not be zero.`);
  const n = Math.max(0, Math.ceil((stop - start) / step));
  checkSize(op, [n]);
  const last = start + (n - 1) * step;
  const ints = [start, stop, step].every(Number.isInteger) && Math.min(start, last) >= INT32_MIN && Math.max(start, last) <= INT32_MAX;
  const dtype = dtypeArg(op, dt, ints ? 'int32' : 'float64');
  const data = allocate(dtype, n);
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  return new NDArray(dtype, [n], data);
}

function seedArg(op: string, v: unknown): number {
  if (!Number.isSafeInteger(v)) throw new OpArgumentError(`${op}: seed must be an integer (the same seed gives the same numbers), got ${typeName(v)}.`);
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
  if (low < INT32_MIN || high > INT32_MAX + 1) throw new OpArgumentError(`${op}: low and high must give int32 values (${INT32_MIN} to ${INT32_MAX + 1} excluded), got ${low} and ${high}.`);
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

// -------------------------------------------------------------------- layout

/**
 * A new array of the elements at offset + sum(index[i] * strides[i]) for each
 * index of `counts`, in row-major order: slicing and transposing are both this.
 */
function gather(src: NumericArray, offset: number, strides: number[], counts: number[], dtype: DType): NDArray {
  const n = sizeOf(counts);
  const out = allocate(dtype, n);
  const nd = counts.length;
  if (n === 0) return new NDArray(dtype, counts, out);
  if (nd === 0) {
    out[0] = src[offset];
    return new NDArray(dtype, counts, out);
  }
  const lastCount = counts[nd - 1];
  const lastStride = strides[nd - 1];
  const index = new Array<number>(nd).fill(0);
  let p = offset;
  for (let o = 0; o < n; o += lastCount) {
    if (lastStride === 1) out.set(src.subarray(p, p + lastCount), o);
    else for (let j = 0, q = p; j < lastCount; j++, q += lastStride) out[o + j] = src[q];
    // Odometer over the other axes.
    for (let d = nd - 2; d >= 0; d--) {
      p += strides[d];
      if (++index[d] < counts[d]) break;
      p -= strides[d] * counts[d];
      index[d] = 0;
    }
  }
  return new NDArray(dtype, counts, out);
}

/** Python's slice.indices: the first index and the count of [start, stop, step] on an axis of length len. */
function resolveSlice(len: number, start: number | null, stop: number | null, step: number): [number, number] {
  const clamp = (i: number) => (i < 0 ? Math.max(i + len, step < 0 ? -1 : 0) : Math.min(i, step < 0 ? len - 1 : len));
  const s = start === null ? (step < 0 ? len - 1 : 0) : clamp(start);
  const e = stop === null ? (step < 0 ? -1 : len) : clamp(stop);
  const count = step > 0 ? (s < e ? Math.floor((e - s - 1) / step) + 1 : 0) : e < s ? Math.floor((s - e - 1) / -step) + 1 : 0;
  return [s, count];
}

function slice(op: string, a: NDArray, slices: unknown): NDArray {
  const usage = 'one entry per axis: null (the whole axis), an index (drops the axis), or [start, stop] or [start, stop, step] (null for a default)';
  if (!Array.isArray(slices)) throw new OpArgumentError(`${op}: slices must be a list with ${usage}; got ${typeName(slices)}.`);
  if (slices.length > a.ndim) throw new OpArgumentError(`${op}: ${slices.length} slices for a ${a.ndim}-d array of shape ${fmt(a.shape)}; give at most ${a.ndim}.`);
  const strides = stridesOf(a.shape);
  const outStrides: number[] = [];
  const counts: number[] = [];
  let offset = 0;
  for (let axis = 0; axis < a.ndim; axis++) {
    const len = a.shape[axis];
    const s: unknown = slices[axis];
    if (s === undefined || s === null) {
      outStrides.push(strides[axis]);
      counts.push(len);
    } else if (typeof s === 'number') {
      if (!Number.isSafeInteger(s)) throw new OpArgumentError(`${op}: slices[${axis}] must be an integer index, got ${s}.`);
      if (s < -len || s >= len) throw new OpArgumentError(`${op}: index ${s} is out of range for axis ${axis} of length ${len}.`);
      offset += (s < 0 ? s + len : s) * strides[axis];
    } else {
      if (!Array.isArray(s) || s.length < 2 || s.length > 3 || !s.every((x) => x === null || Number.isSafeInteger(x))) {
        throw new OpArgumentError(`${op}: slices[${axis}] is ${Array.isArray(s) ? JSON.stringify(s) : typeName(s)}; give ${usage}.`);
      }
      const step = s[2] ?? 1;
      if (step === 0) throw new OpArgumentError(`${op}: slices[${axis}] has step 0; a step must not be zero.`);
      const [first, count] = resolveSlice(len, s[0], s[1], step);
      offset += first * strides[axis];
      outStrides.push(strides[axis] * step);
      counts.push(count);
    }
  }
  return gather(a.data, offset, outStrides, counts, a.dtype);
}

function transpose(op: string, a: NDArray, axesV: unknown): NDArray {
  const nd = a.ndim;
  let axes: number[];
  if (axesV === undefined || axesV === null) axes = a.shape.map((_, i) => nd - 1 - i);
  else {
    if (!Array.isArray(axesV) || axesV.length !== nd || !axesV.every((x) => Number.isSafeInteger(x))) {
      throw new OpArgumentError(`${op}: axes must list each of the ${nd} axes once (a permutation of 0 to ${nd - 1}), got ${Array.isArray(axesV) ? JSON.stringify(axesV) : typeName(axesV)}.`);
    }
    axes = axesV.map((x: number) => normalizeAxis(op, x, nd));
    if (new Set(axes).size !== nd) throw new OpArgumentError(`${op}: axes ${JSON.stringify(axesV)} repeat an axis; give a permutation of 0 to ${nd - 1}.`);
  }
  const strides = stridesOf(a.shape);
  return gather(a.data, 0, axes.map((i) => strides[i]), axes.map((i) => a.shape[i]), a.dtype);
}

function reshape(op: string, a: NDArray, shapeV: unknown): NDArray {
  const raw = typeof shapeV === 'number' ? [shapeV] : shapeV;
  if (!Array.isArray(raw) || !raw.every((d) => Number.isSafeInteger(d) && d >= -1) || raw.filter((d) => d === -1).length > 1) {
    throw new OpArgumentError(`${op}: shape must be a list of non-negative integers with at most one -1 (inferred), got ${Array.isArray(shapeV) ? JSON.stringify(shapeV) : typeName(shapeV)}.`);
  }
  const known = sizeOf((raw as number[]).filter((d) => d !== -1));
  const unknown = raw.indexOf(-1);
  const shape = [...(raw as number[])];
  if (unknown >= 0 && known > 0 && a.size % known === 0) shape[unknown] = a.size / known;
  if (shape.includes(-1) || sizeOf(shape) !== a.size) throw new OpArgumentError(`${op}: cannot reshape an array of ${a.size} elements (shape ${fmt(a.shape)}) into shape ${fmt(raw as number[])}.`);
  if (shape.length > MAX_NDIM) throw new OpArgumentError(`${op}: ${shape.length} dimensions is more than the ${MAX_NDIM} allowed.`);
  return new NDArray(a.dtype, shape, a.data); // Shared: no op writes into an array.
}

/** The dtype that holds every value of all the dtypes exactly. */
function commonDType(dtypes: DType[]): DType {
  if (dtypes.every((d) => d === dtypes[0])) return dtypes[0];
  return dtypes.every((d) => isIntegerDType(d) && d !== 'uint32') ? 'int32' : 'float64';
}

function concatenate(op: string, listV: unknown, axisV: unknown): NDArray {
  if (!Array.isArray(listV) || listV.length === 0) throw new OpArgumentError(`${op} expects a non-empty list of arrays, got ${Array.isArray(listV) ? 'an empty list' : typeName(listV)}.`);
  const parts = listV.map((v, i) => ndarray(op, v, `array ${i}`));
  const nd = parts[0].ndim;
  if (nd === 0) throw new OpArgumentError(`${op}: 0-d arrays cannot be concatenated; reshape them to [1] first.`);
  const axis = axisV === undefined || axisV === null ? 0 : normalizeAxis(op, intArg(op, axisV, 'axis'), nd);
  parts.forEach((p, i) => {
    if (p.ndim !== nd || p.shape.some((d, j) => j !== axis && d !== parts[0].shape[j])) {
      throw new OpArgumentError(`${op}: array ${i} has shape ${fmt(p.shape)} but array 0 has ${fmt(parts[0].shape)}; all dimensions except axis ${axis} must match.`);
    }
  });
  const shape = [...parts[0].shape];
  shape[axis] = parts.reduce((s, p) => s + p.shape[axis], 0);
  checkSize(op, shape);
  const dtype = commonDType(parts.map((p) => p.dtype));
  const out = allocate(dtype, sizeOf(shape));
  const outer = sizeOf(shape.slice(0, axis));
  const inner = sizeOf(shape.slice(axis + 1));
  let pos = 0;
  for (let o = 0; o < outer; o++) {
    for (const p of parts) {
      const block = p.shape[axis] * inner;
      out.set(p.data.subarray(o * block, (o + 1) * block), pos); // set() converts between dtypes.
      pos += block;
    }
  }
  return new NDArray(dtype, shape, out);
}

/** A copy in another dtype, converted as typed arrays convert (toward zero, wrapping; NaN becomes 0 in an integer dtype). */
function astype(a: NDArray, dtype: DType | null): NDArray {
  if (dtype === null || dtype === a.dtype) return a;
  const out = allocate(dtype, a.size);
  out.set(a.data);
  return new NDArray(dtype, a.shape, out);
}

function toList(a: NDArray): unknown {
  if (a.ndim === 0) return a.data[0];
  const strides = stridesOf(a.shape);
  const build = (axis: number, offset: number): unknown[] =>
    axis === a.ndim - 1 ? Array.from(a.data.subarray(offset, offset + a.shape[axis])) : Array.from({ length: a.shape[axis] }, (_, i) => build(axis + 1, offset + i * strides[axis]));
  return build(0, 0);
}

function matmul(op: string, a: NDArray, b: NDArray): NDArray {
  if (a.ndim !== 2 || b.ndim !== 2) throw new OpArgumentError(`${op} multiplies 2-d arrays, got shapes ${fmt(a.shape)} and ${fmt(b.shape)}; reshape with array.reshape first.`);
  const [m, k] = a.shape;
  const [k2, n] = b.shape;
  if (k !== k2) throw new OpArgumentError(`${op}: shapes ${fmt(a.shape)} and ${fmt(b.shape)} do not align: the first's columns (${k}) must equal the second's rows (${k2}).`);
  checkSize(op, [m, n]);
  const A = a.data;
  const B = b.data;
  const acc = new Float64Array(m * n);
  // i-p-j order walks B and the output row by row, which caches well.
  for (let i = 0; i < m; i++) {
    const row = i * n;
    for (let p = 0; p < k; p++) {
      const x = A[i * k + p];
      const brow = p * n;
      for (let j = 0; j < n; j++) acc[row + j] += x * B[brow + j];
    }
  }
  const dtype = isIntegerDType(a.dtype) && isIntegerDType(b.dtype) ? 'int32' : 'float64';
  return astype(new NDArray('float64', [m, n], acc), dtype);
}

// --------------------------------------------------------------- elementwise

type Operand = NDArray | number;

function operand(op: string, v: unknown, what: string): Operand {
  if (typeof v === 'number') return v;
  if (v instanceof NDArray || isNDArrayJSON(v)) return ndarray(op, v, what);
  throw new OpArgumentError(`${op} expects an NDArray or a number as ${what}, got ${typeName(v)}.`);
}

/** Integer operands give integer results: an integer dtype, or a number that is an integer in the int32 range. */
function isIntOperand(v: Operand): boolean {
  return typeof v === 'number' ? Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX : isIntegerDType(v.dtype);
}

type Result = 'arithmetic' | 'float' | 'compare';
type Loop = (x: NumericArray, y: NumericArray, out: NumericArray) => void;
type ScalarLoop = (x: NumericArray, y: number, out: NumericArray) => void;

/**
 * Hand-written loops for array-array, array-number and number-array. One loop
 * calling `f` per element for every op is megamorphic and about 5 times slower;
 * ops without loops (pow, mod, integer mul) use that generic path.
 */
interface Loops {
  aa: Loop;
  as: ScalarLoop;
  sa: ScalarLoop;
}

interface BinarySpec {
  result: Result;
  /** The element function (for floats, and for integers unless fInt is given). */
  f: (x: number, y: number) => number;
  /** The element function when both operands are integers and the result is int32. */
  fInt?: (x: number, y: number) => number;
  loops?: Loops;
}

function binaryOp(name: string, description: string, spec: BinarySpec): OpDefinition {
  return defineOp({
    name,
    description,
    run: (args, kwargs) => {
      const [av, bv] = bind(name, args, kwargs, ['a', 'b'], 2);
      const a = operand(name, av, 'a');
      const b = operand(name, bv, 'b');
      if (typeof a === 'number' && typeof b === 'number') throw new OpArgumentError(`${name}: a or b must be an NDArray; got two numbers.`);
      const shape = a instanceof NDArray ? a.shape : (b as NDArray).shape;
      if (a instanceof NDArray && b instanceof NDArray && (a.ndim !== b.ndim || a.shape.some((d, i) => d !== b.shape[i]))) {
        throw new OpArgumentError(`${name}: shapes ${fmt(a.shape)} and ${fmt(b.shape)} differ; elementwise ops need equal shapes, or a number on one side.`);
      }
      const ints = spec.result === 'arithmetic' && isIntOperand(a) && isIntOperand(b);
      const dtype: DType = spec.result === 'compare' ? 'uint8' : ints ? 'int32' : 'float64';
      const out = allocate(dtype, sizeOf(shape));
      const x = typeof a === 'number' ? a : a.data;
      const y = typeof b === 'number' ? b : b.data;
      // Storing into an Int32Array wraps to 32 bits, as numpy's int32 arithmetic does.
      if (ints && spec.fInt) map2(spec.fInt, x, y, out);
      else if (!spec.loops) map2(spec.f, x, y, out);
      else if (typeof x === 'number') spec.loops.sa(y as NumericArray, x, out);
      else if (typeof y === 'number') spec.loops.as(x, y, out);
      else spec.loops.aa(x, y, out);
      return new NDArray(dtype, shape, out);
    },
  });
}

function map2(f: (x: number, y: number) => number, x: NumericArray | number, y: NumericArray | number, out: NumericArray): void {
  const n = out.length;
  if (typeof x === 'number') for (let i = 0; i < n; i++) out[i] = f(x, (y as NumericArray)[i]);
  else if (typeof y === 'number') for (let i = 0; i < n; i++) out[i] = f(x[i], y);
  else for (let i = 0; i < n; i++) out[i] = f(x[i], y[i]);
}

// `sa` loops get the array first: (array, scalar) computes scalar OP array[i].
const ADD: Loops = {
  aa: (x, y, o) => { for (let i = 0; i < o.length; i++) o[i] = x[i] + y[i]; },
  as: (x, s, o) => { for (let i = 0; i < o.length; i++) o[i] = x[i] + s; },
  sa: (y, s, o) => { for (let i = 0; i < o.length; i++) o[i] = s + y[i]; },
};
const SUB: Loops = {
  aa: (x, y, o) => { for (let i = 0; i < o.length; i++) o[i] = x[i] - y[i]; },
  as: (x, s, o) => { for (let i = 0; i < o.length; i++) o[i] = x[i] - s; },
  sa: (y, s, o) => { for (let i = 0; i < o.length; i++) o[i] = s - y[i]; },
};
const MUL: Loops = {
  aa: (x, y, o) => { for (let i = 0; i < o.length; i++) o[i] = x[i] * y[i]; },
  as: (x, s, o) => { for (let i = 0; i < o.length; i++) o[i] = x[i] * s; },
  sa: (y, s, o) => { for (let i = 0; i < o.length; i++) o[i] = s * y[i]; },
};
const DIV: Loops = {
  aa: (x, y, o) => { for (let i = 0; i < o.length; i++) o[i] = x[i] / y[i]; },
  as: (x, s, o) => { for (let i = 0; i < o.length; i++) o[i] = x[i] / s; },
  sa: (y, s, o) => { for (let i = 0; i < o.length; i++) o[i] = s / y[i]; },
};
const EQ: Loops = {
  aa: (x, y, o) => { for (let i = 0; i < o.length; i++) o[i] = x[i] === y[i] ? 1 : 0; },
  as: (x, s, o) => { for (let i = 0; i < o.length; i++) o[i] = x[i] === s ? 1 : 0; },
  sa: (y, s, o) => { for (let i = 0; i < o.length; i++) o[i] = s === y[i] ? 1 : 0; },
};
const NE: Loops = {
  aa: (x, y, o) => { for (let i = 0; i < o.length; i++) o[i] = x[i] !== y[i] ? 1 : 0; },
  as: (x, s, o) => { for (let i = 0; i < o.length; i++) o[i] = x[i] !== s ? 1 : 0; },
  sa: (y, s, o) => { for (let i = 0; i < o.length; i++) o[i] = s !== y[i] ? 1 : 0; },
};
const LT: Loops = {
  aa: (x, y, o) => { for (let i = 0; i < o.length; i++) o[i] = x[i] < y[i] ? 1 : 0; },
  as: (x, s, o) => { for (let i = 0; i < o.length; i++) o[i] = x[i] < s ? 1 : 0; },
  sa: (y, s, o) => { for (let i = 0; i < o.length; i++) o[i] = s < y[i] ? 1 : 0; },
};
const LE: Loops = {
  aa: (x, y, o) => { for (let i = 0; i < o.length; i++) o[i] = x[i] <= y[i] ? 1 : 0; },
  as: (x, s, o) => { for (let i = 0; i < o.length; i++) o[i] = x[i] <= s ? 1 : 0; },
  sa: (y, s, o) => { for (let i = 0; i < o.length; i++) o[i] = s <= y[i] ? 1 : 0; },
};
const GT: Loops = {
  aa: (x, y, o) => { for (let i = 0; i < o.length; i++) o[i] = x[i] > y[i] ? 1 : 0; },
  as: (x, s, o) => { for (let i = 0; i < o.length; i++) o[i] = x[i] > s ? 1 : 0; },
  sa: (y, s, o) => { for (let i = 0; i < o.length; i++) o[i] = s > y[i] ? 1 : 0; },
};
const GE: Loops = {
  aa: (x, y, o) => { for (let i = 0; i < o.length; i++) o[i] = x[i] >= y[i] ? 1 : 0; },
  as: (x, s, o) => { for (let i = 0; i < o.length; i++) o[i] = x[i] >= s ? 1 : 0; },
  sa: (y, s, o) => { for (let i = 0; i < o.length; i++) o[i] = s >= y[i] ? 1 : 0; },
};

/** Unary ops keep integer kinds (int32) or give float64; their loops are hand-written for the same reason as Loops. */
function unaryOp(name: string, description: string, keepsInts: boolean, loop: (x: NumericArray, out: NumericArray) => void): OpDefinition {
  return defineOp({
    name,
    description,
    run: (args, kwargs) => {
      const [av] = bind(name, args, kwargs, ['a'], 1);
      const a = ndarray(name, av, 'a');
      const dtype: DType = keepsInts && isIntegerDType(a.dtype) ? 'int32' : 'float64';
      const out = allocate(dtype, a.size);
      loop(a.data, out);
      return new NDArray(dtype, a.shape, out);
    },
  });
}

/** Python's %: the result has the divisor's sign. */
function pyMod(x: number, y: number): number {
  const r = x % y;
  return r !== 0 && r < 0 !== y < 0 ? r + y : r;
}

/** Integer power wrapping at 32 bits as numpy's int32 does (exact, unlike Math.pow past 2^53). */
function intPow(base: number, exp: number): number {
  if (exp < 0) throw new OpArgumentError('array.pow: integers to negative integer powers are not integers; convert with array.astype(a, "float64") first.');
  let r = 1;
  let b = base | 0;
  for (let e = exp; e > 0; e = Math.floor(e / 2)) {
    if (e % 2 === 1) r = Math.imul(r, b);
    b = Math.imul(b, b);
  }
  return r;
}

// ---------------------------------------------------------------- reductions

/**
 * A reduction along `axis` (null: all) seen as [outer, n, inner]: element
 * (o, k, i) is at (o * n + k) * inner + i, and output o * inner + i reduces k.
 */
interface Layout {
  outer: number;
  n: number;
  inner: number;
  /** The result's shape: the input's without `axis` ([] for all axes). */
  outShape: number[];
}

function layout(shape: number[], axis: number | null): Layout {
  if (axis === null) return { outer: 1, n: sizeOf(shape), inner: 1, outShape: [] };
  return { outer: sizeOf(shape.slice(0, axis)), n: shape[axis], inner: sizeOf(shape.slice(axis + 1)), outShape: shape.filter((_, i) => i !== axis) };
}

function sumKernel(x: NumericArray, { outer, n, inner }: Layout): Float64Array {
  const out = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    if (inner === 1) {
      let s = 0;
      for (let k = 0, p = o * n; k < n; k++, p++) s += x[p];
      out[o] = s;
    } else {
      for (let k = 0; k < n; k++) for (let i = 0, p = (o * n + k) * inner, q = o * inner; i < inner; i++) out[q + i] += x[p + i];
    }
  }
  return out;
}

/** min or max; NaN wins, as in numpy. */
function extremeKernel(x: NumericArray, { outer, n, inner }: Layout, min: boolean): Float64Array {
  const out = new Float64Array(outer * inner).fill(min ? Infinity : -Infinity);
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < n; k++) {
      for (let i = 0, p = (o * n + k) * inner, q = o * inner; i < inner; i++) {
        const v = x[p + i];
        if ((min ? v < out[q + i] : v > out[q + i]) || v !== v) out[q + i] = v;
      }
    }
  }
  return out;
}

/**
 * The partial of array.moments, one entry per output position. The mean is a
 * double-double, mean + mean_lo: a float64 mean of data near 1e6 is off by up
 * to 6e-11, and Chan's update multiplies the difference of two chunk means by
 * up to the chunk size, which would cost var about 1e-11 relative. With
 * mean_lo the merged var agrees with the one-array var within 1e-14.
 */
interface Moments {
  count: Float64Array;
  mean: Float64Array;
  mean_lo: Float64Array;
  m2: Float64Array;
  min: Float64Array;
  max: Float64Array;
  sum: Float64Array;
}

const MOMENT_FIELDS = ['count', 'mean', 'mean_lo', 'm2', 'min', 'max', 'sum'] as const;
/** mean_lo may be absent (0): a partial made elsewhere still merges, to float64 precision. */
const REQUIRED_FIELDS = MOMENT_FIELDS.filter((f) => f !== 'mean_lo');

/**
 * count, mean (+ mean_lo), m2 (sum of squared deviations from the mean),
 * min, max, sum. Two passes with the corrected two-pass formula: m2 = S2 -
 * S1^2/n over the deviations from a first mean, and the mean refined by S1/n.
 * Unlike the one-pass sum of squares this keeps full precision for data far
 * from zero.
 */
function momentsKernel(x: NumericArray, L: Layout): Moments {
  const { outer, n, inner } = L;
  const m = outer * inner;
  const sum = sumKernel(x, L);
  const min = extremeKernel(x, L, true);
  const max = extremeKernel(x, L, false);
  const mean = new Float64Array(m);
  const meanLo = new Float64Array(m);
  const m2 = new Float64Array(m);
  if (n === 0) mean.fill(NaN);
  else {
    const s1 = new Float64Array(m);
    const s2 = new Float64Array(m);
    for (let j = 0; j < m; j++) mean[j] = sum[j] / n;
    for (let o = 0; o < outer; o++) {
      if (inner === 1) {
        const c = mean[o];
        let a = 0;
        let b = 0;
        for (let k = 0, p = o * n; k < n; k++, p++) {
          const d = x[p] - c;
          a += d;
          b += d * d;
        }
        s1[o] = a;
        s2[o] = b;
      } else {
        for (let k = 0; k < n; k++) {
          for (let i = 0, p = (o * n + k) * inner, q = o * inner; i < inner; i++) {
            const d = x[p + i] - mean[q + i];
            s1[q + i] += d;
            s2[q + i] += d * d;
          }
        }
      }
    }
    for (let j = 0; j < m; j++) {
      m2[j] = Math.max(0, s2[j] - (s1[j] * s1[j]) / n);
      twoSumInto(mean[j], s1[j] / n, mean, meanLo, j);
    }
  }
  return { count: new Float64Array(m).fill(n), mean, mean_lo: meanLo, m2, min, max, sum };
}

/** Stores a + b exactly as hi[j] + lo[j] (Knuth's TwoSum); lo is 0 when the sum is not finite, where it would be NaN. */
function twoSumInto(a: number, b: number, hi: Float64Array, lo: Float64Array, j: number): void {
  const s = a + b;
  const bb = s - a;
  hi[j] = s;
  lo[j] = Number.isFinite(s) ? a - (s - bb) + (b - bb) : 0;
}

/**
 * Merges partials with Chan, Golub and LeVeque's pairwise update: exact in
 * exact arithmetic, whatever the chunk sizes, and numerically as good as one
 * pass over all the data. Returns new arrays; the inputs are not changed.
 */
function combineMoments(parts: Moments[]): Moments {
  const acc = Object.fromEntries(MOMENT_FIELDS.map((f) => [f, parts[0][f].slice()])) as unknown as Moments;
  for (let p = 1; p < parts.length; p++) {
    const b = parts[p];
    for (let j = 0; j < acc.count.length; j++) {
      const nb = b.count[j];
      if (nb === 0) continue;
      const na = acc.count[j];
      if (na === 0) {
        for (const f of MOMENT_FIELDS) acc[f][j] = b[f][j];
        continue;
      }
      const n = na + nb;
      // The high parts of two close means subtract exactly, so delta keeps the low parts' precision.
      const delta = b.mean[j] - acc.mean[j] + (b.mean_lo[j] - acc.mean_lo[j]);
      const lo = acc.mean_lo[j];
      twoSumInto(acc.mean[j], delta * (nb / n), acc.mean, acc.mean_lo, j);
      twoSumInto(acc.mean[j], acc.mean_lo[j] + lo, acc.mean, acc.mean_lo, j);
      acc.m2[j] += b.m2[j] + delta * delta * ((na * nb) / n);
      acc.sum[j] += b.sum[j];
      acc.min[j] = Math.min(acc.min[j], b.min[j]);
      acc.max[j] = Math.max(acc.max[j], b.max[j]);
      acc.count[j] = n;
    }
  }
  return acc;
}

/** A partial as returned: numbers for axis null (shape null), else float64 NDArrays of `shape`. */
function emitMoments(m: Moments, shape: number[] | null): Record<string, number | NDArray> {
  return Object.fromEntries(MOMENT_FIELDS.map((f) => [f, shape === null ? m[f][0] : new NDArray('float64', shape, m[f])]));
}

/** Reads a partial back; null fields (how JSON writes NaN and infinities) read as NaN. */
function readMoments(op: string, v: unknown, what: string): { m: Moments; shape: number[] | null } {
  const usage = 'a partial from array.moments: {count, mean, mean_lo, m2, min, max, sum}';
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof NDArray) throw new OpArgumentError(`${op}: ${what} must be ${usage}, got ${typeName(v)}.`);
  const rec = v as Record<string, unknown>;
  for (const f of REQUIRED_FIELDS) if (!Object.prototype.hasOwnProperty.call(rec, f)) throw new OpArgumentError(`${op}: ${what} has no field "${f}"; it must be ${usage}.`);
  if (typeof rec.count === 'number') {
    const m = {} as Moments;
    for (const f of MOMENT_FIELDS) {
      const x = f === 'mean_lo' ? (rec[f] ?? 0) : rec[f];
      if (typeof x !== 'number' && x !== null) throw new OpArgumentError(`${op}: ${what}.${f} is ${typeName(x)}, but count is a number, so it must be a number too.`);
      m[f] = new Float64Array([x ?? NaN]);
    }
    return { m, shape: null };
  }
  const count = ndarray(op, rec.count, `${what}.count`);
  const m = {} as Moments;
  for (const f of MOMENT_FIELDS) {
    if (f === 'mean_lo' && (rec[f] === undefined || rec[f] === null)) {
      m[f] = new Float64Array(count.size);
      continue;
    }
    const a = f === 'count' ? count : ndarray(op, rec[f], `${what}.${f}`);
    if (a.ndim !== count.ndim || a.shape.some((d, i) => d !== count.shape[i])) {
      throw new OpArgumentError(`${op}: ${what}.${f} has shape ${fmt(a.shape)} but ${what}.count has ${fmt(count.shape)}; a partial's fields share one shape.`);
    }
    m[f] = astype(a, 'float64').data as Float64Array;
  }
  return { m, shape: count.shape };
}

function variance(m2: number, count: number, ddof: number): number {
  return count - ddof > 0 ? m2 / (count - ddof) : NaN;
}

function ddofArg(op: string, v: unknown): number {
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) throw new OpArgumentError(`${op}: ddof must be a non-negative number (0 for the population, 1 for the sample variance), got ${typeName(v)}.`);
  return v;
}

const FINALS = ['sum', 'mean', 'min', 'max', 'var', 'std', 'count'] as const;
type Final = (typeof FINALS)[number];

function finalize(op: string, m: Moments, shape: number[] | null, what: Final, ddof: number): number | NDArray {
  const len = m.count.length;
  const out = new Float64Array(len);
  for (let j = 0; j < len; j++) {
    const n = m.count[j];
    if ((what === 'min' || what === 'max') && n === 0) throw new OpArgumentError(`${op}: ${what} of an empty array is undefined (the partial's count is 0).`);
    const v = variance(m.m2[j], n, ddof);
    out[j] = what === 'var' ? v : what === 'std' ? Math.sqrt(v) : what === 'mean' ? m.mean[j] + m.mean_lo[j] : m[what][j];
  }
  return shape === null ? out[0] : new NDArray('float64', shape, out);
}

/** sum, mean, min, max, var, std of one array: a number for axis null, else an NDArray. */
function reduce(op: string, a: NDArray, axisV: unknown, what: Exclude<Final, 'count'>, ddof = 0): number | NDArray {
  const axis = axisArg(op, axisV, a.ndim);
  const L = layout(a.shape, axis);
  const shape = axis === null ? null : L.outShape;
  if (what === 'sum') {
    const s = sumKernel(a.data, L);
    return shape === null ? s[0] : new NDArray('float64', shape, s);
  }
  if (what === 'min' || what === 'max') {
    if (L.n === 0 && L.outer * L.inner > 0) throw new OpArgumentError(`${op} of an empty array is undefined (axis ${axis ?? 'null'} of shape ${fmt(a.shape)} has no elements).`);
    const e = extremeKernel(a.data, L, what === 'min');
    return shape === null ? e[0] : astype(new NDArray('float64', shape, e), a.dtype); // min and max keep the dtype.
  }
  return finalize(op, momentsKernel(a.data, L), shape, what, ddof);
}

// ----------------------------------------------------------------------- ops

function op1(name: string, description: string, names: string[], required: number, run: (op: string, v: unknown[]) => unknown): OpDefinition {
  return defineOp({ name, description, run: (args, kwargs) => run(name, bind(name, args, kwargs, names, required)) });
}

function reduction(what: 'sum' | 'mean' | 'min' | 'max', description: string): OpDefinition {
  return op1(`array.${what}`, description, ['a', 'axis'], 1, (op, [a, axis]) => reduce(op, ndarray(op, a, 'a'), axis, what));
}

function spread(what: 'var' | 'std', description: string): OpDefinition {
  return op1(`array.${what}`, description, ['a', 'axis', 'ddof'], 1, (op, [a, axis, ddof]) => reduce(op, ndarray(op, a, 'a'), axis, what, ddofArg(op, ddof)));
}

export const arrayOps: OpDefinition[] = [
  // creation
  op1('array.from', 'array.from(data, dtype?): an array from nested lists of numbers (dtype int32 if all are int32 integers, else float64).', ['data', 'dtype'], 1, (op, [data, dt]) =>
    fromNested(op, data, dt === undefined || dt === null ? null : dtypeArg(op, dt, 'float64')),
  ),
  op1('array.zeros', 'array.zeros(shape, dtype="float64"): an array of zeros.', ['shape', 'dtype'], 1, (op, [s, dt]) => filled(shapeArg(op, s), dtypeArg(op, dt, 'float64'), 0)),
  op1('array.ones', 'array.ones(shape, dtype="float64"): an array of ones.', ['shape', 'dtype'], 1, (op, [s, dt]) => filled(shapeArg(op, s), dtypeArg(op, dt, 'float64'), 1)),
  defineOp({ name: 'array.arange', description: 'array.arange(start, stop?, step=1, dtype?): evenly spaced values in [start, stop), as numpy.arange.', run: (args, kwargs) => arange('array.arange', args, kwargs) }),
  op1('array.random', 'array.random(shape, seed): float64 uniform in [0, 1); the same seed gives the same numbers (xoshiro128**).', ['shape', 'seed'], 2, (op, [s, seed]) => random(op, s, seed)),
  op1('array.randint', 'array.randint(low, high, shape, seed): int32 uniform in [low, high); the same seed gives the same numbers.', ['low', 'high', 'shape', 'seed'], 4, (op, [lo, hi, s, seed]) => randint(op, lo, hi, s, seed)),
  // layout
  op1('array.slice', 'array.slice(a, slices): per axis null, an index, or [start, stop, step?] (negative counts from the end), as numpy a[...].', ['a', 'slices'], 2, (op, [a, s]) => slice(op, ndarray(op, a, 'a'), s)),
  op1('array.transpose', 'array.transpose(a, axes?): the axes permuted (reversed by default).', ['a', 'axes'], 1, (op, [a, axes]) => transpose(op, ndarray(op, a, 'a'), axes)),
  op1('array.reshape', 'array.reshape(a, shape): the same elements in a new shape; one dimension may be -1 (inferred).', ['a', 'shape'], 2, (op, [a, s]) => reshape(op, ndarray(op, a, 'a'), s)),
  op1('array.concatenate', 'array.concatenate(arrays, axis=0): arrays joined along an axis.', ['arrays', 'axis'], 1, (op, [list, axis]) => concatenate(op, list, axis)),
  op1('array.matmul', 'array.matmul(a, b): the matrix product of 2-d arrays.', ['a', 'b'], 2, (op, [a, b]) => matmul(op, ndarray(op, a, 'a'), ndarray(op, b, 'b'))),
  op1('array.astype', 'array.astype(a, dtype): a copy in another dtype (to an integer dtype: toward zero, wrapping).', ['a', 'dtype'], 2, (op, [a, dt]) => astype(ndarray(op, a, 'a'), dtypeArg(op, dt, 'float64'))),
  op1('array.shape', 'array.shape(a): the shape, a list of integers.', ['a'], 1, (op, [a]) => [...ndarray(op, a, 'a').shape]),
  op1('array.to_list', 'array.to_list(a): the elements as nested lists (a number for a 0-d array).', ['a'], 1, (op, [a]) => toList(ndarray(op, a, 'a'))),
  // elementwise
  binaryOp('array.add', 'array.add(a, b): a + b elementwise; a or b may be a number.', { result: 'arithmetic', f: (x, y) => x + y, loops: ADD }),
  binaryOp('array.sub', 'array.sub(a, b): a - b elementwise; a or b may be a number.', { result: 'arithmetic', f: (x, y) => x - y, loops: SUB }),
  binaryOp('array.mul', 'array.mul(a, b): a * b elementwise; a or b may be a number.', { result: 'arithmetic', f: (x, y) => x * y, fInt: Math.imul, loops: MUL }),
  binaryOp('array.div', 'array.div(a, b): a / b elementwise, always float64 (x/0 is ±Infinity or NaN, as numpy).', { result: 'float', f: (x, y) => x / y, loops: DIV }),
  binaryOp('array.pow', 'array.pow(a, b): a ** b elementwise; a or b may be a number (integers to negative integer powers are an error).', { result: 'arithmetic', f: Math.pow, fInt: intPow }),
  binaryOp('array.mod', 'array.mod(a, b): a % b elementwise with the sign of b, as Python (integer x % 0 is 0).', { result: 'arithmetic', f: pyMod, fInt: (x, y) => (y === 0 ? 0 : pyMod(x, y)) }),
  binaryOp('array.eq', 'array.eq(a, b): 1 where a == b, else 0 (uint8).', { result: 'compare', f: (x, y) => (x === y ? 1 : 0), loops: EQ }),
  binaryOp('array.ne', 'array.ne(a, b): 1 where a != b, else 0 (uint8).', { result: 'compare', f: (x, y) => (x !== y ? 1 : 0), loops: NE }),
  binaryOp('array.lt', 'array.lt(a, b): 1 where a < b, else 0 (uint8).', { result: 'compare', f: (x, y) => (x < y ? 1 : 0), loops: LT }),
  binaryOp('array.le', 'array.le(a, b): 1 where a <= b, else 0 (uint8).', { result: 'compare', f: (x, y) => (x <= y ? 1 : 0), loops: LE }),
  binaryOp('array.gt', 'array.gt(a, b): 1 where a > b, else 0 (uint8).', { result: 'compare', f: (x, y) => (x > y ? 1 : 0), loops: GT }),
  binaryOp('array.ge', 'array.ge(a, b): 1 where a >= b, else 0 (uint8).', { result: 'compare', f: (x, y) => (x >= y ? 1 : 0), loops: GE }),
  unaryOp('array.neg', 'array.neg(a): -a elementwise.', true, (x, o) => { for (let i = 0; i < o.length; i++) o[i] = -x[i]; }),
  unaryOp('array.abs', 'array.abs(a): |a| elementwise.', true, (x, o) => { for (let i = 0; i < o.length; i++) o[i] = Math.abs(x[i]); }),
  unaryOp('array.sqrt', 'array.sqrt(a): the square root elementwise (NaN below zero), float64.', false, (x, o) => { for (let i = 0; i < o.length; i++) o[i] = Math.sqrt(x[i]); }),
  unaryOp('array.exp', 'array.exp(a): e ** a elementwise, float64.', false, (x, o) => { for (let i = 0; i < o.length; i++) o[i] = Math.exp(x[i]); }),
  unaryOp('array.log', 'array.log(a): the natural logarithm elementwise (-Infinity at 0, NaN below), float64.', false, (x, o) => { for (let i = 0; i < o.length; i++) o[i] = Math.log(x[i]); }),
  // reductions
  reduction('sum', 'array.sum(a, axis?): the sum over all elements (a number) or along axis (a float64 array).'),
  reduction('mean', 'array.mean(a, axis?): the mean over all elements (a number) or along axis (a float64 array).'),
  reduction('min', 'array.min(a, axis?): the smallest element (a number) or smallest along axis (an array of a\'s dtype).'),
  reduction('max', 'array.max(a, axis?): the largest element (a number) or largest along axis (an array of a\'s dtype).'),
  spread('var', 'array.var(a, axis?, ddof=0): the variance, dividing by n - ddof, over all elements or along axis.'),
  spread('std', 'array.std(a, axis?, ddof=0): the standard deviation, the square root of array.var.'),
  // tree reductions across chunks
  op1('array.moments', 'array.moments(a, axis?): a partial {count, mean, mean_lo, m2, min, max, sum} to merge with array.combine_moments.', ['a', 'axis'], 1, (op, [av, axisV]) => {
    const a = ndarray(op, av, 'a');
    const axis = axisArg(op, axisV, a.ndim);
    const L = layout(a.shape, axis);
    return emitMoments(momentsKernel(a.data, L), axis === null ? null : L.outShape);
  }),
  op1('array.combine_moments', 'array.combine_moments(partials): one partial from a list of them, merged exactly (Chan et al.).', ['partials'], 1, (op, [list]) => {
    if (!Array.isArray(list) || list.length === 0) throw new OpArgumentError(`${op} expects a non-empty list of partials from array.moments, got ${Array.isArray(list) ? 'an empty list' : typeName(list)}.`);
    const parts = list.map((p, i) => readMoments(op, p, `partial ${i}`));
    const shape = parts[0].shape;
    parts.forEach((p, i) => {
      const same = p.shape === null ? shape === null : shape !== null && p.shape.length === shape.length && p.shape.every((d, k) => d === shape[k]);
      if (!same) {
        const show = (s: number[] | null) => (s === null ? 'numbers (axis null)' : `arrays of shape ${fmt(s)}`);
        throw new OpArgumentError(`${op}: partial ${i} holds ${show(p.shape)} but partial 0 holds ${show(shape)}; merge partials taken over the same axis of chunks that agree on the other axes.`);
      }
    });
    return emitMoments(combineMoments(parts.map((p) => p.m)), shape);
  }),
  op1('array.finalize', 'array.finalize(partial, what, ddof=0): sum, mean, min, max, var, std or count of a partial from array.moments.', ['partial', 'what', 'ddof'], 2, (op, [p, what, ddofV]) => {
    if (typeof what !== 'string' || !(FINALS as readonly string[]).includes(what)) throw new OpArgumentError(`${op}: what must be one of ${FINALS.join(', ')}; got ${typeName(what)}.`);
    if (ddofV !== undefined && ddofV !== null && what !== 'var' && what !== 'std') throw new OpArgumentError(`${op}: ddof applies to var and std only, not ${what}.`);
    const { m, shape } = readMoments(op, p, 'partial');
    return finalize(op, m, shape, what as Final, ddofArg(op, ddofV));
  }),
];
