/**
 * Chunk arithmetic for chunked arrays, as Dask's `normalize_chunks` and
 * slicing: pure functions over per-axis lists of chunk sizes.
 */

/** Per axis, the sizes of its chunks (Dask's `chunks` tuple of tuples). */
export type Chunks = number[][];

/**
 * `chunks` as the user gives it: one size for every axis, a size per axis, or
 * explicit sizes per axis. Every axis of length 0 gets one empty chunk.
 */
export function normalizeChunks(
  shape: readonly number[],
  chunks: number | readonly (number | readonly number[])[],
): Chunks {
  const perAxis = typeof chunks === 'number' ? shape.map(() => chunks) : chunks;
  if (perAxis.length !== shape.length)
    throw new RangeError(
      `chunks gives ${perAxis.length} axes for a ${shape.length}-d shape ${JSON.stringify(shape)}: give one entry per axis, or one number for all.`,
    );
  return shape.map((n, axis) => {
    const c = perAxis[axis];
    if (typeof c === 'number') {
      if (!Number.isInteger(c) || c < 1)
        throw new RangeError(`chunk size ${c} along axis ${axis} must be a positive integer.`);
      if (n === 0) return [0];
      const sizes = Array.from({ length: Math.floor(n / c) }, () => c);
      if (n % c > 0) sizes.push(n % c);
      return sizes;
    }
    const sizes = [...c];
    const total = sizes.reduce((a, b) => a + b, 0);
    if (sizes.some((s) => !Number.isInteger(s) || s < 0) || total !== n)
      throw new RangeError(
        `chunks ${JSON.stringify(c)} along axis ${axis} must be non-negative integers adding up to its length ${n}.`,
      );
    return sizes.length > 0 ? sizes : [0];
  });
}

/** Every block index, row-major. */
export function blockIndexes(chunks: Chunks): number[][] {
  let out: number[][] = [[]];
  for (const axis of chunks) out = out.flatMap((prefix) => axis.map((_, i) => [...prefix, i]));
  return out;
}

/** Where each chunk of an axis starts. */
export function offsets(sizes: readonly number[]): number[] {
  const out: number[] = [];
  let at = 0;
  for (const s of sizes) {
    out.push(at);
    at += s;
  }
  return out;
}

/** One axis of a slice: an index (drops the axis), or [start, stop, step] with numpy's rules for a positive step. */
export type AxisSlice = number | null | readonly [number | null, (number | null)?, (number | null)?];

/** What a slice keeps of one axis: the blocks it touches, with the local slice and resulting length of each. */
export interface AxisSelection {
  /** The axis is dropped (an integer index). */
  drop: boolean;
  pieces: { block: number; local: number | [number, number, number]; length: number }[];
}

/** Which blocks of an axis of these chunk sizes a slice reads, and how. */
export function selectAxis(sizes: readonly number[], s: AxisSlice, axis: number): AxisSelection {
  const n = sizes.reduce((a, b) => a + b, 0);
  const starts = offsets(sizes);
  if (typeof s === 'number') {
    if (!Number.isInteger(s) || s < -n || s >= n)
      throw new RangeError(`index ${s} is out of range for axis ${axis} of length ${n}.`);
    const at = s < 0 ? s + n : s;
    let block = 0;
    while (at >= starts[block] + sizes[block]) block++;
    return { drop: true, pieces: [{ block, local: at - starts[block], length: 1 }] };
  }
  const [startV, stopV, stepV] = s === null ? [null, null, null] : s;
  const step = stepV ?? 1;
  if (!Number.isInteger(step) || step < 1)
    throw new RangeError(
      `step ${step} along axis ${axis}: collections slice with positive integer steps (reverse with a step of -1 on the computed NDArray).`,
    );
  const clip = (v: number | null | undefined, dflt: number) =>
    v === null || v === undefined ? dflt : Math.min(n, Math.max(0, v < 0 ? v + n : v));
  const start = clip(startV, 0);
  const stop = clip(stopV, n);
  const pieces: AxisSelection['pieces'] = [];
  for (let b = 0; b < sizes.length; b++) {
    const lo = starts[b];
    const hi = lo + sizes[b];
    // First selected index at or after lo: start + k * step.
    const first = start >= lo ? start : start + Math.ceil((lo - start) / step) * step;
    const end = Math.min(hi, stop);
    if (first >= end) continue;
    const length = Math.ceil((end - first) / step);
    pieces.push({ block: b, local: [first - lo, end - lo, step], length });
  }
  if (pieces.length === 0) pieces.push({ block: 0, local: [0, 0, 1], length: 0 });
  return { drop: false, pieces };
}
