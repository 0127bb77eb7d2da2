/**
 * The reduction array.* ops: sum, mean, min, max, var and std of one array,
 * and the trio a tree reduction across chunks needs: array.moments (a partial
 * per chunk), array.combine_moments (partials merged exactly) and
 * array.finalize (a statistic from a partial). This module checks arguments
 * and reads and writes partials; the arithmetic is in kernels.ts.
 */
import { OpArgumentError, type OpDefinition } from '../registry.ts';
import { typeName } from '../builtin.ts';
import { NDArray } from '../../shared/values/ndarray.ts';
import { axisArg, fmt, ndarray, op1 } from './args.ts';
import {
  MOMENT_FIELDS,
  REQUIRED_FIELDS,
  combineMoments,
  extremeKernel,
  layout,
  momentsKernel,
  sumKernel,
  type Moments,
} from './kernels.ts';
import { astype } from './layout.ts';

/** A partial as returned: numbers for axis null (shape null), else float64 NDArrays of `shape`. */
function emitMoments(m: Moments, shape: number[] | null): Record<string, number | NDArray> {
  return Object.fromEntries(
    MOMENT_FIELDS.map((f) => [f, shape === null ? m[f][0] : new NDArray('float64', shape, m[f])]),
  );
}

/** Reads a partial back; null fields (how JSON writes NaN and infinities) read as NaN. */
function readMoments(op: string, v: unknown, what: string): { m: Moments; shape: number[] | null } {
  const usage = 'a partial from array.moments: {count, mean, mean_lo, m2, min, max, sum}';
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof NDArray)
    throw new OpArgumentError(`${op}: ${what} must be ${usage}, got ${typeName(v)}.`);
  const rec = v as Record<string, unknown>;
  for (const f of REQUIRED_FIELDS)
    if (!Object.hasOwn(rec, f)) throw new OpArgumentError(`${op}: ${what} has no field "${f}"; it must be ${usage}.`);
  if (typeof rec.count === 'number') {
    const m = {} as Moments;
    for (const f of MOMENT_FIELDS) {
      const x = f === 'mean_lo' ? (rec[f] ?? 0) : rec[f];
      if (typeof x !== 'number' && x !== null)
        throw new OpArgumentError(
          `${op}: ${what}.${f} is ${typeName(x)}, but count is a number, so it must be a number too.`,
        );
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
      throw new OpArgumentError(
        `${op}: ${what}.${f} has shape ${fmt(a.shape)} but ${what}.count has ${fmt(count.shape)}; a partial's fields share one shape.`,
      );
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
  if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v))
    throw new OpArgumentError(
      `${op}: ddof must be a non-negative number (0 for the population, 1 for the sample variance), got ${typeName(v)}.`,
    );
  return v;
}

const FINALS = ['sum', 'mean', 'min', 'max', 'var', 'std', 'count'] as const;
type Final = (typeof FINALS)[number];

function finalize(op: string, m: Moments, shape: number[] | null, what: Final, ddof: number): number | NDArray {
  const len = m.count.length;
  const out = new Float64Array(len);
  for (let j = 0; j < len; j++) {
    const n = m.count[j];
    if ((what === 'min' || what === 'max') && n === 0)
      throw new OpArgumentError(`${op}: ${what} of an empty array is undefined (the partial's count is 0).`);
    const v = variance(m.m2[j], n, ddof);
    out[j] =
      what === 'var' ? v : what === 'std' ? Math.sqrt(v) : what === 'mean' ? m.mean[j] + m.mean_lo[j] : m[what][j];
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
    if (L.n === 0 && L.outer * L.inner > 0)
      throw new OpArgumentError(
        `${op} of an empty array is undefined (axis ${axis ?? 'null'} of shape ${fmt(a.shape)} has no elements).`,
      );
    const e = extremeKernel(a.data, L, what === 'min');
    return shape === null ? e[0] : astype(new NDArray('float64', shape, e), a.dtype); // min and max keep the dtype.
  }
  return finalize(op, momentsKernel(a.data, L), shape, what, ddof);
}

function reduction(what: 'sum' | 'mean' | 'min' | 'max', description: string): OpDefinition {
  return op1(`array.${what}`, description, ['a', 'axis'], 1, (op, [a, axis]) =>
    reduce(op, ndarray(op, a, 'a'), axis, what),
  );
}

function spread(what: 'var' | 'std', description: string): OpDefinition {
  return op1(`array.${what}`, description, ['a', 'axis', 'ddof'], 1, (op, [a, axis, ddof]) =>
    reduce(op, ndarray(op, a, 'a'), axis, what, ddofArg(op, ddof)),
  );
}

export const reduceOps: OpDefinition[] = [
  reduction('sum', 'array.sum(a, axis?): the sum over all elements (a number) or along axis (a float64 array).'),
  reduction('mean', 'array.mean(a, axis?): the mean over all elements (a number) or along axis (a float64 array).'),
  reduction(
    'min',
    "array.min(a, axis?): the smallest element (a number) or smallest along axis (an array of a's dtype).",
  ),
  reduction(
    'max',
    "array.max(a, axis?): the largest element (a number) or largest along axis (an array of a's dtype).",
  ),
  spread('var', 'array.var(a, axis?, ddof=0): the variance, dividing by n - ddof, over all elements or along axis.'),
  spread('std', 'array.std(a, axis?, ddof=0): the standard deviation, the square root of array.var.'),
  // tree reductions across chunks
  op1(
    'array.moments',
    'array.moments(a, axis?): a partial {count, mean, mean_lo, m2, min, max, sum} to merge with array.combine_moments.',
    ['a', 'axis'],
    1,
    (op, [av, axisV]) => {
      const a = ndarray(op, av, 'a');
      const axis = axisArg(op, axisV, a.ndim);
      const L = layout(a.shape, axis);
      return emitMoments(momentsKernel(a.data, L), axis === null ? null : L.outShape);
    },
  ),
  op1(
    'array.combine_moments',
    'array.combine_moments(partials): one partial from a list of them, merged exactly (Chan et al.).',
    ['partials'],
    1,
    (op, [list]) => {
      if (!Array.isArray(list) || list.length === 0)
        throw new OpArgumentError(
          `${op} expects a non-empty list of partials from array.moments, got ${Array.isArray(list) ? 'an empty list' : typeName(list)}.`,
        );
      const parts = list.map((p, i) => readMoments(op, p, `partial ${i}`));
      const shape = parts[0].shape;
      parts.forEach((p, i) => {
        const same =
          p.shape === null
            ? shape === null
            : shape !== null && p.shape.length === shape.length && p.shape.every((d, k) => d === shape[k]);
        if (!same) {
          const show = (s: number[] | null) => (s === null ? 'numbers (axis null)' : `arrays of shape ${fmt(s)}`);
          throw new OpArgumentError(
            `${op}: partial ${i} holds ${show(p.shape)} but partial 0 holds ${show(shape)}; merge partials taken over the same axis of chunks that agree on the other axes.`,
          );
        }
      });
      return emitMoments(combineMoments(parts.map((p) => p.m)), shape);
    },
  ),
  op1(
    'array.finalize',
    'array.finalize(partial, what, ddof=0): sum, mean, min, max, var, std or count of a partial from array.moments.',
    ['partial', 'what', 'ddof'],
    2,
    (op, [p, what, ddofV]) => {
      if (typeof what !== 'string' || !(FINALS as readonly string[]).includes(what))
        throw new OpArgumentError(`${op}: what must be one of ${FINALS.join(', ')}; got ${typeName(what)}.`);
      if (ddofV !== undefined && ddofV !== null && what !== 'var' && what !== 'std')
        throw new OpArgumentError(`${op}: ddof applies to var and std only, not ${what}.`);
      const { m, shape } = readMoments(op, p, 'partial');
      return finalize(op, m, shape, what as Final, ddofArg(op, ddofV));
    },
  ),
];
