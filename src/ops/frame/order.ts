/**
 * The frame.* ops about row order and range partitioning: sort_values, head
 * and concat, and the first two steps of set_index, quantiles (sample
 * quantiles of one partition's column) and boundaries (split points merged
 * from the quantiles of all partitions, weighted by their row counts), which
 * shuffle_group (shuffle.ts) then uses to split by range.
 */
import { Frame, FrameError, describe, isMissing, isNumericColumn, type Column } from '../../shared/values/frame.ts';
import type { OpDefinition } from '../registry.ts';
import { asFrame, columnList, columnName, frameOp, frames, integer, type Scalar } from './args.ts';
import { sortIndices } from './sort.ts';

function ascendingList(v: unknown, n: number): boolean[] {
  if (v === undefined) return new Array(n).fill(true);
  if (typeof v === 'boolean') return new Array(n).fill(v);
  if (Array.isArray(v) && v.length === n && v.every((x) => typeof x === 'boolean')) return v;
  throw new FrameError(
    `ascending must be true, false, or a list of ${n} booleans (one per sort column), got ${describe(v)}.`,
  );
}

function sampleQuantiles(c: Column, q: number[]): Scalar[] {
  const vals = (
    isNumericColumn(c) ? Array.from(c).filter((v) => !Number.isNaN(v)) : (c.filter((v) => v !== null) as string[])
  ) as (number | string)[];
  if (vals.length === 0) return [];
  const numeric = isNumericColumn(c);
  vals.sort(numeric ? (a, b) => (a as number) - (b as number) : (a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return q.map((p) => {
    const h = (vals.length - 1) * p;
    const lo = Math.floor(h);
    if (!numeric || lo + 1 >= vals.length) return vals[lo];
    return (vals[lo] as number) + (h - lo) * ((vals[lo + 1] as number) - (vals[lo] as number));
  });
}

/** nparts - 1 split points from quantile lists: each value of list i stands for counts[i] / len(list i) rows. */
function mergeBoundaries(lists: Scalar[][], nparts: number, counts: number[] | undefined): Scalar[] {
  const pts: { v: number | string; w: number }[] = [];
  lists.forEach((l, i) => {
    for (const v of l) if (!isMissing(v)) pts.push({ v: v as number | string, w: (counts ? counts[i] : 1) / l.length });
  });
  if (pts.length === 0) throw new FrameError('all quantile lists are empty: there are no values to split.');
  const numeric = typeof pts[0].v === 'number';
  if (pts.some((p) => typeof p.v !== typeof pts[0].v))
    throw new FrameError('the quantile lists mix numbers and strings.');
  pts.sort((a, b) => (a.v < b.v ? -1 : a.v > b.v ? 1 : 0));
  const total = pts.reduce((s, p) => s + p.w, 0);
  // Point j sits at the middle of its weight: pos_j = (weights before j) + w_j / 2.
  const pos: number[] = [];
  let cum = 0;
  for (const p of pts) {
    pos.push(cum + p.w / 2);
    cum += p.w;
  }
  const out: Scalar[] = [];
  let j = 0;
  for (let i = 1; i < nparts; i++) {
    const t = (total * i) / nparts;
    while (j < pts.length - 1 && pos[j + 1] <= t) j++;
    if (t <= pos[0]) out.push(pts[0].v);
    else if (!numeric || j === pts.length - 1) out.push(pts[j].v);
    else {
      const a = pts[j].v as number;
      const b = pts[j + 1].v as number;
      out.push(a + ((t - pos[j]) / (pos[j + 1] - pos[j])) * (b - a));
    }
  }
  return out;
}

export const orderOps: OpDefinition[] = [
  frameOp(
    'frame.sort_values',
    ['f', 'by', 'ascending?'],
    'the rows sorted by a column or list of columns (stable; missing values last); ascending is a boolean or one per column.',
    ([f, by, asc]) => {
      const fr = asFrame(f, 'f');
      const cols = columnList(fr, by, 'by');
      return fr.take(sortIndices(fr, cols, ascendingList(asc, cols.length)));
    },
  ),
  frameOp('frame.head', ['f', 'n?'], 'the first n rows (default 5).', ([f, n]) => {
    const fr = asFrame(f, 'f');
    return fr.slice(0, n === undefined ? 5 : integer(n, 'n', 0, Number.MAX_SAFE_INTEGER));
  }),
  frameOp('frame.concat', ['frames'], 'the rows of a list of frames with the same columns, in order.', ([fs]) =>
    Frame.concat(frames(fs, 'frames')),
  ),
  frameOp(
    'frame.quantiles',
    ['f', 'column', 'q'],
    'sample quantiles of a column at probabilities q (sorted, in [0, 1]; numbers interpolate linearly, strings take the lower value); [] for no values.',
    ([f, col, q]) => {
      const fr = asFrame(f, 'f');
      const name = columnName(fr, col, 'column');
      if (
        !Array.isArray(q) ||
        q.length === 0 ||
        !q.every((p, i) => typeof p === 'number' && p >= 0 && p <= 1 && (i === 0 || p >= q[i - 1]))
      ) {
        throw new FrameError(
          `q must be a non-empty sorted list of probabilities in [0, 1], e.g. [0.1, 0.3, 0.5, 0.7, 0.9]; got ${JSON.stringify(q)?.slice(0, 80)}.`,
        );
      }
      return sampleQuantiles(fr.column(name), q as number[]);
    },
  ),
  frameOp(
    'frame.boundaries',
    ['quantiles', 'nparts', 'counts?'],
    'nparts - 1 sorted split points from a list of quantile lists (one per partition, weighted by counts, default equal).',
    ([qs, nparts, counts]) => {
      if (!Array.isArray(qs) || qs.length === 0 || !qs.every(Array.isArray))
        throw new FrameError(
          `quantiles must be a non-empty list of quantile lists (outputs of frame.quantiles), got ${describe(qs)}.`,
        );
      const k = integer(nparts, 'nparts', 1, 100_000);
      if (
        counts !== undefined &&
        (!Array.isArray(counts) || counts.length !== qs.length || !counts.every((c) => typeof c === 'number' && c >= 0))
      ) {
        throw new FrameError(
          `counts must be a list of ${qs.length} row counts (one per quantile list, e.g. from frame.len), got ${describe(counts)}.`,
        );
      }
      return mergeBoundaries(qs as Scalar[][], k, counts as number[] | undefined);
    },
  ),
];
