/**
 * The groupby frame.* ops. groupby_partial computes per-group statistics of
 * one partition (count, sum, mean, m2, min, max, as the aggs need),
 * groupby_combine merges partials exactly (Chan et al. for mean and m2),
 * groupby_finalize turns a partial into the result (one column per agg,
 * sorted by the group keys), and groupby_agg does all three for one partition.
 * This module also parses the shared by and aggs arguments.
 */
import {
  Frame,
  FrameError,
  describe,
  isMissing,
  isNumericColumn,
  listNames,
  type Column,
  type NumericColumn,
  type StringColumn,
} from '../../shared/values/frame.ts';
import type { OpDefinition } from '../registry.ts';
import { asFrame, frameOp, frames, integer, type Scalar } from './args.ts';
import { groupRows } from './keys.ts';
import { sortIndices } from './sort.ts';

const AGGS = ['sum', 'mean', 'count', 'min', 'max', 'std', 'var'] as const;
type Agg = (typeof AGGS)[number];
type Stat = 'count' | 'sum' | 'mean' | 'm2' | 'min' | 'max';
const STATS_OF: Record<Agg, Stat[]> = {
  count: ['count'],
  sum: ['sum'],
  mean: ['count', 'mean'],
  var: ['count', 'mean', 'm2'],
  std: ['count', 'mean', 'm2'],
  min: ['min'],
  max: ['max'],
};

interface GroupSpec {
  by: string[];
  aggs: [output: string, column: string, agg: Agg][];
  /** Per value column, the statistics the partial keeps. */
  stats: Map<string, Set<Stat>>;
}

const statName = (stat: Stat, col: string) => `${stat}(${col})`;

/** Parses by and aggs; `columns` looks up a value column to check its type (undefined for partials, which hold stat columns). */
function groupSpec(by: unknown, aggs: unknown, columns: (name: string) => Column | undefined): GroupSpec {
  const byList = typeof by === 'string' ? [by] : by;
  if (!Array.isArray(byList) || byList.length === 0 || !byList.every((b) => typeof b === 'string'))
    throw new FrameError(`by must be a column name or a non-empty list of names, got ${describe(by)}.`);
  if (new Set(byList).size !== byList.length) throw new FrameError('by names a column twice.');
  if (typeof aggs !== 'object' || aggs === null || Array.isArray(aggs) || Object.keys(aggs).length === 0) {
    throw new FrameError(
      `aggs must be an object mapping output names to [column, agg] (agg one of ${AGGS.join(', ')}), e.g. {"mean_grade": ["grade", "mean"]}; got ${describe(aggs)}.`,
    );
  }
  const spec: GroupSpec = { by: byList as string[], aggs: [], stats: new Map() };
  for (const [out, a] of Object.entries(aggs)) {
    if (!Array.isArray(a) || a.length !== 2 || typeof a[0] !== 'string' || !AGGS.includes(a[1])) {
      throw new FrameError(
        `aggs[${JSON.stringify(out)}] must be [column, agg] with agg one of ${AGGS.join(', ')}, got ${JSON.stringify(a)?.slice(0, 80)}.`,
      );
    }
    if (spec.by.includes(out))
      throw new FrameError(`aggs[${JSON.stringify(out)}]: the output name is also a group column; rename it.`);
    if (spec.by.includes(a[0]))
      throw new FrameError(
        `aggs[${JSON.stringify(out)}]: column ${JSON.stringify(a[0])} is a group column and cannot be aggregated.`,
      );
    spec.aggs.push([out, a[0], a[1]]);
    const set = spec.stats.get(a[0]) ?? new Set<Stat>();
    for (const s of STATS_OF[a[1] as Agg]) set.add(s);
    spec.stats.set(a[0], set);
  }
  for (const [col, stats] of spec.stats) {
    const c = columns(col);
    if (c !== undefined && !isNumericColumn(c) && [...stats].some((s) => s !== 'count' && s !== 'min' && s !== 'max')) {
      throw new FrameError(`column ${JSON.stringify(col)} holds strings: only count, min and max apply to it.`);
    }
  }
  return spec;
}

function partialColumns(spec: GroupSpec): string[] {
  const names = [...spec.by];
  for (const [col, stats] of spec.stats)
    for (const s of ['count', 'sum', 'mean', 'm2', 'min', 'max'] as Stat[])
      if (stats.has(s)) names.push(statName(s, col));
  if (new Set(names).size !== names.length)
    throw new FrameError(`a group column is named like a statistic column (${listNames(names)}); rename it.`);
  return names;
}

/** The statistics of each group of one partition. */
function groupbyPartial(f: Frame, spec: GroupSpec): Frame {
  spec.by.forEach((b) => f.column(b));
  const { ids, first } = groupRows(f, spec.by);
  const G = first.length;
  const out: [string, Column][] = f.select(spec.by).take(first).entries();
  for (const [col, stats] of spec.stats) {
    const c = f.column(col);
    const count = new Float64Array(G);
    if (!isNumericColumn(c)) {
      const min: StringColumn = new Array(G).fill(null);
      const max: StringColumn = new Array(G).fill(null);
      for (let i = 0; i < c.length; i++) {
        const g = ids[i];
        const v = c[i];
        if (g < 0 || v === null) continue;
        count[g]++;
        if (min[g] === null || v < min[g]!) min[g] = v;
        if (max[g] === null || v > max[g]!) max[g] = v;
      }
      const byStat = { count, min, max } as Record<Stat, Column>;
      for (const s of ['count', 'min', 'max'] as Stat[]) if (stats.has(s)) out.push([statName(s, col), byStat[s]]);
      continue;
    }
    const sum = new Float64Array(G);
    const min = new Float64Array(G).fill(NaN);
    const max = new Float64Array(G).fill(NaN);
    for (let i = 0; i < c.length; i++) {
      const g = ids[i];
      const v = c[i];
      if (g < 0 || Number.isNaN(v)) continue;
      count[g]++;
      sum[g] += v;
      if (!(v >= min[g])) min[g] = v;
      if (!(v <= max[g])) max[g] = v;
    }
    const mean = new Float64Array(G);
    for (let g = 0; g < G; g++) mean[g] = count[g] > 0 ? sum[g] / count[g] : NaN;
    const m2 = new Float64Array(G);
    if (stats.has('m2')) {
      // Two passes (mean first): exact to rounding, unlike sum of squares.
      for (let i = 0; i < c.length; i++) {
        const g = ids[i];
        const v = c[i];
        if (g < 0 || Number.isNaN(v)) continue;
        const d = v - mean[g];
        m2[g] += d * d;
      }
    }
    const byStat: Record<Stat, Column> = { count, sum, mean, m2, min, max };
    for (const s of ['count', 'sum', 'mean', 'm2', 'min', 'max'] as Stat[])
      if (stats.has(s)) out.push([statName(s, col), byStat[s]]);
  }
  return new Frame(out, G);
}

/** Merges partials: groups with equal keys become one row (Chan et al. for mean and m2). */
function groupbyCombine(partials: Frame[], spec: GroupSpec): Frame {
  const names = partialColumns(spec);
  partials.forEach((p, i) => {
    const missing = names.filter((n) => !p.has(n));
    if (missing.length)
      throw new FrameError(
        `partial ${i} has no column ${listNames(missing)}: give groupby_partial, groupby_combine and groupby_finalize the same by and aggs.`,
      );
  });
  const all = Frame.concat(partials.map((p) => p.select(names)));
  const { ids, first } = groupRows(all, spec.by);
  const G = first.length;
  const out: [string, Column][] = all.select(spec.by).take(first).entries();
  for (const [col, stats] of spec.stats) {
    const get = (s: Stat) => all.column(statName(s, col));
    const count = stats.has('count') ? (get('count') as NumericColumn) : undefined;
    const n = new Float64Array(G);
    const res = new Map<Stat, Column>();
    if (count) for (let i = 0; i < all.length; i++) if (ids[i] >= 0) n[ids[i]] += count[i];
    if (stats.has('count')) res.set('count', n);
    if (stats.has('sum')) {
      const s = get('sum') as NumericColumn;
      const sum = new Float64Array(G);
      for (let i = 0; i < all.length; i++) if (ids[i] >= 0) sum[ids[i]] += s[i];
      res.set('sum', sum);
    }
    if (stats.has('mean')) {
      const mc = get('mean') as NumericColumn;
      const m2c = stats.has('m2') ? (get('m2') as NumericColumn) : undefined;
      const na = new Float64Array(G);
      const mean = new Float64Array(G).fill(NaN);
      const m2 = new Float64Array(G);
      for (let i = 0; i < all.length; i++) {
        const g = ids[i];
        const nb = count![i];
        if (g < 0 || nb === 0) continue;
        if (na[g] === 0) {
          na[g] = nb;
          mean[g] = mc[i];
          m2[g] = m2c ? m2c[i] : 0;
          continue;
        }
        const nn = na[g] + nb;
        const delta = mc[i] - mean[g];
        mean[g] += (delta * nb) / nn;
        if (m2c) m2[g] += m2c[i] + (delta * delta * na[g] * nb) / nn;
        na[g] = nn;
      }
      res.set('mean', mean);
      if (m2c) res.set('m2', m2);
    }
    for (const s of ['min', 'max'] as const) {
      if (!stats.has(s)) continue;
      const c = get(s);
      const better = (v: Scalar, cur: Scalar) =>
        !isMissing(v) && (isMissing(cur) || (s === 'min' ? v! < cur! : v! > cur!));
      const col2 = isNumericColumn(c) ? new Float64Array(G).fill(NaN) : (new Array(G).fill(null) as StringColumn);
      for (let i = 0; i < all.length; i++) {
        const g = ids[i];
        if (g >= 0 && better(c[i], col2[g])) col2[g] = c[i] as never;
      }
      res.set(s, col2);
    }
    for (const s of ['count', 'sum', 'mean', 'm2', 'min', 'max'] as Stat[])
      if (res.has(s)) out.push([statName(s, col), res.get(s)!]);
  }
  return new Frame(out, G);
}

function groupbyFinalize(partial: Frame, spec: GroupSpec, ddof: number): Frame {
  const p = groupbyCombine([partial], spec);
  const out: [string, Column][] = p.select(spec.by).entries();
  for (const [name, col, agg] of spec.aggs) {
    const stat = (s: Stat) => p.column(statName(s, col));
    if (agg === 'count' || agg === 'sum' || agg === 'mean' || agg === 'min' || agg === 'max') {
      out.push([name, stat(agg)]);
      continue;
    }
    const n = stat('count') as NumericColumn;
    const m2 = stat('m2') as NumericColumn;
    const v = new Float64Array(p.length);
    for (let g = 0; g < v.length; g++) {
      const x = n[g] - ddof > 0 ? m2[g] / (n[g] - ddof) : NaN;
      v[g] = agg === 'std' ? Math.sqrt(x) : x;
    }
    out.push([name, v]);
  }
  const result = new Frame(out, p.length);
  return result.take(
    sortIndices(
      result,
      spec.by,
      spec.by.map(() => true),
    ),
  );
}

function groupSpecFor(f: Frame, by: unknown, aggs: unknown): GroupSpec {
  const spec = groupSpec(by, aggs, (n) => f.column(n));
  spec.by.forEach((b) => f.column(b));
  return spec;
}

function groupSpecForPartials(by: unknown, aggs: unknown): GroupSpec {
  return groupSpec(by, aggs, () => undefined);
}

function ddofArg(v: unknown): number {
  if (v === undefined) return 1;
  return integer(v, 'ddof', 0, 1_000_000);
}

export const groupbyOps: OpDefinition[] = [
  frameOp(
    'frame.groupby_partial',
    ['f', 'by', 'aggs'],
    'per-group statistics of one partition (count, sum, mean, m2, min, max as aggs need), to merge with groupby_combine.',
    ([f, by, aggs]) => {
      const fr = asFrame(f, 'f');
      return groupbyPartial(fr, groupSpecFor(fr, by, aggs));
    },
  ),
  frameOp(
    'frame.groupby_combine',
    ['partials', 'by', 'aggs'],
    'merges a list of groupby partials into one partial, exactly (Chan et al. for mean, var, std).',
    ([ps, by, aggs]) => {
      const list = frames(ps, 'partials');
      return groupbyCombine(list, groupSpecForPartials(by, aggs));
    },
  ),
  frameOp(
    'frame.groupby_finalize',
    ['partial', 'by', 'aggs', 'ddof?'],
    'the groupby result from a partial: group columns then one column per agg, sorted by the group keys; var and std divide by count - ddof (default 1).',
    ([p, by, aggs, ddof]) => {
      const fr = asFrame(p, 'partial');
      return groupbyFinalize(fr, groupSpecForPartials(by, aggs), ddofArg(ddof));
    },
  ),
  frameOp(
    'frame.groupby_agg',
    ['f', 'by', 'aggs', 'ddof?'],
    'groupby of one partition: {output: [column, sum|mean|count|min|max|std|var]}, sorted by the group keys.',
    ([f, by, aggs, ddof]) => {
      const fr = asFrame(f, 'f');
      const spec = groupSpecFor(fr, by, aggs);
      return groupbyFinalize(groupbyPartial(fr, spec), spec, ddofArg(ddof));
    },
  ),
];
