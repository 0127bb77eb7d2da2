/**
 * The array.* ops that rearrange elements rather than compute new ones: slice
 * and transpose (both one strided gather), reshape (shares its input's buffer),
 * concatenate, astype, shape and to_list; and matmul, the one product of whole
 * arrays. astype is also how the other modules convert a result to a dtype.
 */
import { OpArgumentError, type OpDefinition } from '../registry.ts';
import { typeName } from '../builtin.ts';
import {
  NDArray,
  allocate,
  isIntegerDType,
  sizeOf,
  stridesOf,
  type DType,
  type NumericArray,
} from '../../shared/values/ndarray.ts';
import { MAX_NDIM, checkSize, dtypeArg, fmt, intArg, ndarray, normalizeAxis, op1 } from './args.ts';

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
  const count =
    step > 0 ? (s < e ? Math.floor((e - s - 1) / step) + 1 : 0) : e < s ? Math.floor((s - e - 1) / -step) + 1 : 0;
  return [s, count];
}

function slice(op: string, a: NDArray, slices: unknown): NDArray {
  const usage =
    'one entry per axis: null (the whole axis), an index (drops the axis), or [start, stop] or [start, stop, step] (null for a default)';
  if (!Array.isArray(slices))
    throw new OpArgumentError(`${op}: slices must be a list with ${usage}; got ${typeName(slices)}.`);
  if (slices.length > a.ndim)
    throw new OpArgumentError(
      `${op}: ${slices.length} slices for a ${a.ndim}-d array of shape ${fmt(a.shape)}; give at most ${a.ndim}.`,
    );
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
      if (!Number.isSafeInteger(s))
        throw new OpArgumentError(`${op}: slices[${axis}] must be an integer index, got ${s}.`);
      if (s < -len || s >= len)
        throw new OpArgumentError(`${op}: index ${s} is out of range for axis ${axis} of length ${len}.`);
      offset += (s < 0 ? s + len : s) * strides[axis];
    } else {
      if (!Array.isArray(s) || s.length < 2 || s.length > 3 || !s.every((x) => x === null || Number.isSafeInteger(x))) {
        throw new OpArgumentError(
          `${op}: slices[${axis}] is ${Array.isArray(s) ? JSON.stringify(s) : typeName(s)}; give ${usage}.`,
        );
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
      throw new OpArgumentError(
        `${op}: axes must list each of the ${nd} axes once (a permutation of 0 to ${nd - 1}), got ${Array.isArray(axesV) ? JSON.stringify(axesV) : typeName(axesV)}.`,
      );
    }
    axes = axesV.map((x: number) => normalizeAxis(op, x, nd));
    if (new Set(axes).size !== nd)
      throw new OpArgumentError(
        `${op}: axes ${JSON.stringify(axesV)} repeat an axis; give a permutation of 0 to ${nd - 1}.`,
      );
  }
  const strides = stridesOf(a.shape);
  return gather(
    a.data,
    0,
    axes.map((i) => strides[i]),
    axes.map((i) => a.shape[i]),
    a.dtype,
  );
}

function reshape(op: string, a: NDArray, shapeV: unknown): NDArray {
  const raw = typeof shapeV === 'number' ? [shapeV] : shapeV;
  if (
    !Array.isArray(raw) ||
    !raw.every((d) => Number.isSafeInteger(d) && d >= -1) ||
    raw.filter((d) => d === -1).length > 1
  ) {
    throw new OpArgumentError(
      `${op}: shape must be a list of non-negative integers with at most one -1 (inferred), got ${Array.isArray(shapeV) ? JSON.stringify(shapeV) : typeName(shapeV)}.`,
    );
  }
  const known = sizeOf((raw as number[]).filter((d) => d !== -1));
  const unknown = raw.indexOf(-1);
  const shape = [...(raw as number[])];
  if (unknown >= 0 && known > 0 && a.size % known === 0) shape[unknown] = a.size / known;
  if (shape.includes(-1) || sizeOf(shape) !== a.size)
    throw new OpArgumentError(
      `${op}: cannot reshape an array of ${a.size} elements (shape ${fmt(a.shape)}) into shape ${fmt(raw as number[])}.`,
    );
  if (shape.length > MAX_NDIM)
    throw new OpArgumentError(`${op}: ${shape.length} dimensions is more than the ${MAX_NDIM} allowed.`);
  return new NDArray(a.dtype, shape, a.data); // Shared: no op writes into an array.
}

/** The dtype that holds every value of all the dtypes exactly. */
function commonDType(dtypes: DType[]): DType {
  if (dtypes.every((d) => d === dtypes[0])) return dtypes[0];
  return dtypes.every((d) => isIntegerDType(d) && d !== 'uint32') ? 'int32' : 'float64';
}

function concatenate(op: string, listV: unknown, axisV: unknown): NDArray {
  if (!Array.isArray(listV) || listV.length === 0)
    throw new OpArgumentError(
      `${op} expects a non-empty list of arrays, got ${Array.isArray(listV) ? 'an empty list' : typeName(listV)}.`,
    );
  const parts = listV.map((v, i) => ndarray(op, v, `array ${i}`));
  const nd = parts[0].ndim;
  if (nd === 0) throw new OpArgumentError(`${op}: 0-d arrays cannot be concatenated; reshape them to [1] first.`);
  const axis = axisV === undefined || axisV === null ? 0 : normalizeAxis(op, intArg(op, axisV, 'axis'), nd);
  parts.forEach((p, i) => {
    if (p.ndim !== nd || p.shape.some((d, j) => j !== axis && d !== parts[0].shape[j])) {
      throw new OpArgumentError(
        `${op}: array ${i} has shape ${fmt(p.shape)} but array 0 has ${fmt(parts[0].shape)}; all dimensions except axis ${axis} must match.`,
      );
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
export function astype(a: NDArray, dtype: DType | null): NDArray {
  if (dtype === null || dtype === a.dtype) return a;
  const out = allocate(dtype, a.size);
  out.set(a.data);
  return new NDArray(dtype, a.shape, out);
}

function toList(a: NDArray): unknown {
  if (a.ndim === 0) return a.data[0];
  const strides = stridesOf(a.shape);
  const build = (axis: number, offset: number): unknown[] =>
    axis === a.ndim - 1
      ? Array.from(a.data.subarray(offset, offset + a.shape[axis]))
      : Array.from({ length: a.shape[axis] }, (_, i) => build(axis + 1, offset + i * strides[axis]));
  return build(0, 0);
}

function matmul(op: string, a: NDArray, b: NDArray): NDArray {
  if (a.ndim !== 2 || b.ndim !== 2)
    throw new OpArgumentError(
      `${op} multiplies 2-d arrays, got shapes ${fmt(a.shape)} and ${fmt(b.shape)}; reshape with array.reshape first.`,
    );
  const [m, k] = a.shape;
  const [k2, n] = b.shape;
  if (k !== k2)
    throw new OpArgumentError(
      `${op}: shapes ${fmt(a.shape)} and ${fmt(b.shape)} do not align: the first's columns (${k}) must equal the second's rows (${k2}).`,
    );
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

export const layoutOps: OpDefinition[] = [
  op1(
    'array.slice',
    'array.slice(a, slices): per axis null, an index, or [start, stop, step?] (negative counts from the end), as numpy a[...].',
    ['a', 'slices'],
    2,
    (op, [a, s]) => slice(op, ndarray(op, a, 'a'), s),
  ),
  op1(
    'array.transpose',
    'array.transpose(a, axes?): the axes permuted (reversed by default).',
    ['a', 'axes'],
    1,
    (op, [a, axes]) => transpose(op, ndarray(op, a, 'a'), axes),
  ),
  op1(
    'array.reshape',
    'array.reshape(a, shape): the same elements in a new shape; one dimension may be -1 (inferred).',
    ['a', 'shape'],
    2,
    (op, [a, s]) => reshape(op, ndarray(op, a, 'a'), s),
  ),
  op1(
    'array.concatenate',
    'array.concatenate(arrays, axis=0): arrays joined along an axis.',
    ['arrays', 'axis'],
    1,
    (op, [list, axis]) => concatenate(op, list, axis),
  ),
  op1('array.matmul', 'array.matmul(a, b): the matrix product of 2-d arrays.', ['a', 'b'], 2, (op, [a, b]) =>
    matmul(op, ndarray(op, a, 'a'), ndarray(op, b, 'b')),
  ),
  op1(
    'array.astype',
    'array.astype(a, dtype): a copy in another dtype (to an integer dtype: toward zero, wrapping).',
    ['a', 'dtype'],
    2,
    (op, [a, dt]) => astype(ndarray(op, a, 'a'), dtypeArg(op, dt, 'float64')),
  ),
  op1('array.shape', 'array.shape(a): the shape, a list of integers.', ['a'], 1, (op, [a]) => [
    ...ndarray(op, a, 'a').shape,
  ]),
  op1(
    'array.to_list',
    'array.to_list(a): the elements as nested lists (a number for a 0-d array).',
    ['a'],
    1,
    (op, [a]) => toList(ndarray(op, a, 'a')),
  ),
];
