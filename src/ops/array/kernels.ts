/**
 * The reduction kernels behind reduce.ts: sum, min or max and the moments
 * (count, mean as a double-double, m2, min, max, sum) along one axis or over
 * all elements, and the exact merge of moments from several chunks (Chan et
 * al.). Plain loops over typed arrays with no argument checking; the ops in
 * reduce.ts validate their inputs and call these.
 */
import { sizeOf, type NumericArray } from '../../shared/values/ndarray.ts';

/**
 * A reduction along `axis` (null: all) seen as [outer, n, inner]: element
 * (o, k, i) is at (o * n + k) * inner + i, and output o * inner + i reduces k.
 */
export interface Layout {
  outer: number;
  n: number;
  inner: number;
  /** The result's shape: the input's without `axis` ([] for all axes). */
  outShape: number[];
}

export function layout(shape: number[], axis: number | null): Layout {
  if (axis === null) return { outer: 1, n: sizeOf(shape), inner: 1, outShape: [] };
  return {
    outer: sizeOf(shape.slice(0, axis)),
    n: shape[axis],
    inner: sizeOf(shape.slice(axis + 1)),
    outShape: shape.filter((_, i) => i !== axis),
  };
}

export function sumKernel(x: NumericArray, { outer, n, inner }: Layout): Float64Array {
  const out = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    if (inner === 1) {
      let s = 0;
      for (let k = 0, p = o * n; k < n; k++, p++) s += x[p];
      out[o] = s;
    } else {
      for (let k = 0; k < n; k++)
        for (let i = 0, p = (o * n + k) * inner, q = o * inner; i < inner; i++) out[q + i] += x[p + i];
    }
  }
  return out;
}

/** min or max; NaN wins, as in numpy. */
export function extremeKernel(x: NumericArray, { outer, n, inner }: Layout, min: boolean): Float64Array {
  const out = new Float64Array(outer * inner).fill(min ? Infinity : -Infinity);
  if (inner === 1) {
    // Over contiguous runs (all elements, or the last axis): a local
    // accumulator and one comparison per element, five times faster than the
    // general loop below. NaN ends the run: nothing compares less than it.
    for (let o = 0; o < outer; o++) {
      let e = out[o];
      const end = (o + 1) * n;
      if (min) {
        for (let p = o * n; p < end; p++) {
          const v = x[p];
          if (v < e) e = v;
          else if (Number.isNaN(v)) {
            e = NaN;
            break;
          }
        }
      } else {
        for (let p = o * n; p < end; p++) {
          const v = x[p];
          if (v > e) e = v;
          else if (Number.isNaN(v)) {
            e = NaN;
            break;
          }
        }
      }
      out[o] = e;
    }
    return out;
  }
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < n; k++) {
      for (let i = 0, p = (o * n + k) * inner, q = o * inner; i < inner; i++) {
        const v = x[p + i];
        if ((min ? v < out[q + i] : v > out[q + i]) || Number.isNaN(v)) out[q + i] = v;
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
export interface Moments {
  count: Float64Array;
  mean: Float64Array;
  mean_lo: Float64Array;
  m2: Float64Array;
  min: Float64Array;
  max: Float64Array;
  sum: Float64Array;
}

export const MOMENT_FIELDS = ['count', 'mean', 'mean_lo', 'm2', 'min', 'max', 'sum'] as const;
/** mean_lo may be absent (0): a partial made elsewhere still merges, to float64 precision. */
export const REQUIRED_FIELDS = MOMENT_FIELDS.filter((f) => f !== 'mean_lo');

/**
 * count, mean (+ mean_lo), m2 (sum of squared deviations from the mean),
 * min, max, sum. Two passes with the corrected two-pass formula: m2 = S2 -
 * S1^2/n over the deviations from a first mean, and the mean refined by S1/n.
 * Unlike the one-pass sum of squares this keeps full precision for data far
 * from zero.
 */
export function momentsKernel(x: NumericArray, L: Layout): Moments {
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
export function combineMoments(parts: Moments[]): Moments {
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
