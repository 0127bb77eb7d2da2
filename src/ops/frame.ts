/**
 * Dataframe ops over Frame partitions (src/values/frame.ts). A Dask dataframe
 * is many partitions; these ops are what one task does to one or a few of
 * them. Distributed algorithms are graphs of these ops (docs/dataframes.md):
 *
 * - groupby: groupby_partial per partition, groupby_combine in a tree,
 *   groupby_finalize at the root. Exact: partials carry count, sum, mean and
 *   m2 (sum of squared deviations), merged with Chan et al.'s formulas.
 * - merge: shuffle_group both sides by the key into k parts, merge part j with part j.
 * - set_index: quantiles -> boundaries -> shuffle_group by range -> sort_values.
 *
 * Every op takes a frame as a Frame or as its JSON form {"$frame": {...}}.
 * Arguments may be given by position or by name (kwargs).
 */
import {
  Frame, FrameError, columnFromValues, describe, frameFromJSON, isMissing, isNumericColumn, listNames, takeColumn,
  type Column, type NumericColumn, type StringColumn,
} from '../values/frame.ts';
import { OpArgumentError, defineOp, type OpDefinition } from './registry.ts';

// ---------------------------------------------------------------- arguments

/** Binds positional args and kwargs to parameter names ("name?" is optional). */
function bind(op: string, args: unknown[], kwargs: Record<string, unknown> | undefined, params: string[]): unknown[] {
  const names = params.map((p) => p.replace(/\?$/, ''));
  const sig = `${op}(${params.join(', ')})`;
  if (args.length > params.length) throw new FrameError(`takes at most ${params.length} arguments, got ${args.length}: ${sig}.`);
  const out = args.slice();
  for (const [k, v] of Object.entries(kwargs ?? {})) {
    const i = names.indexOf(k);
    if (i < 0) throw new FrameError(`has no argument ${JSON.stringify(k)}: ${sig}.`);
    if (i < args.length) throw new FrameError(`argument ${JSON.stringify(k)} is given both by position and by name.`);
    out[i] = v;
  }
  params.forEach((p, i) => {
    if (!p.endsWith('?') && out[i] === undefined) throw new FrameError(`argument ${i + 1} (${p}) is missing: ${sig}.`);
  });
  return out;
}

function frameOp(name: string, params: string[], description: string, fn: (a: unknown[]) => unknown): OpDefinition {
  return defineOp({
    name,
    description: `${name}(${params.join(', ')}): ${description}`,
    run: (args, kwargs) => {
      try {
        return fn(bind(name, args, kwargs, params));
      } catch (err) {
        if (err instanceof FrameError) throw new OpArgumentError(`${name}: ${err.message}`);
        throw err;
      }
    },
  });
}

function asFrame(v: unknown, what: string): Frame {
  if (v instanceof Frame) return v;
  if (typeof v === 'object' && v !== null && '$frame' in v) {
    try {
      return frameFromJSON(v);
    } catch (err) {
      if (err instanceof FrameError) throw new FrameError(`${what}: ${err.message}`);
      throw err;
    }
  }
  throw new FrameError(`${what} must be a frame (made by a frame op, or {"$frame": {"columns": {...}}}), got ${describe(v)}.`);
}

function frames(v: unknown, what: string): Frame[] {
  if (!Array.isArray(v)) throw new FrameError(`${what} must be an array of frames, got ${describe(v)}.`);
  if (v.length === 0) throw new FrameError(`${what} is empty; give at least one frame.`);
  return v.map((f, i) => asFrame(f, `${what}[${i}]`));
}

function columnName(f: Frame, v: unknown, what: string): string {
  if (typeof v !== 'string') throw new FrameError(`${what} must be a column name (a string), got ${describe(v)}.`);
  f.column(v);
  return v;
}

/** A column name or a non-empty list of distinct names. */
function columnList(f: Frame, v: unknown, what: string): string[] {
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0) throw new FrameError(`${what} must be a column name or a non-empty list of names, got ${describe(v)}.`);
  list.forEach((n, i) => columnName(f, n, `${what}[${i}]`));
  if (new Set(list).size !== list.length) throw new FrameError(`${what} names a column twice.`);
  return list as string[];
}

function integer(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new FrameError(`${what} must be an integer from ${min} to ${max}, got ${describe(v)}.`);
  return v;
}

type Scalar = number | string | null;

function sameKind(c: Column, v: unknown, what: string, nullOk: boolean): Scalar {
  if (v === null && nullOk) return null;
  const want = isNumericColumn(c) ? 'number' : 'string';
  if (typeof v !== want) throw new FrameError(`${what} must be a ${want} (the column holds ${want}s), got ${describe(v)}.`);
  return v as Scalar;
}

// ---------------------------------------------------------------- predicates

const COMPARISONS = ['==', '!=', '<', '<=', '>', '>=', 'in', 'not_in'] as const;
type Comparison = (typeof COMPARISONS)[number];
const PREDICATE_FORM = '[column, op, value] with op one of ==, !=, <, <=, >, >=, in, not_in; ["and", p, ...]; ["or", p, ...]; or ["not", p]';

/** A row mask (1 = keep) for a predicate; see PREDICATE_FORM. Missing values fail every test but != and not_in. */
function predicateMask(f: Frame, p: unknown, path: string, depth = 0): Uint8Array {
  if (depth > 64) throw new FrameError(`${path}: predicates nest more than 64 deep.`);
  if (!Array.isArray(p)) throw new FrameError(`${path} must be a predicate (${PREDICATE_FORM}), got ${describe(p)}.`);
  const [head, ...rest] = p;
  if ((head === 'and' || head === 'or') && rest.length > 0 && rest.every(Array.isArray)) {
    const masks = rest.map((q, i) => predicateMask(f, q, `${path}[${i + 1}]`, depth + 1));
    const out = masks[0].slice();
    for (const m of masks.slice(1)) for (let i = 0; i < out.length; i++) out[i] = head === 'and' ? out[i] & m[i] : out[i] | m[i];
    return out;
  }
  if (head === 'not' && rest.length === 1 && Array.isArray(rest[0])) {
    const m = predicateMask(f, rest[0], `${path}[1]`, depth + 1);
    for (let i = 0; i < m.length; i++) m[i] ^= 1;
    return m;
  }
  if (p.length !== 3 || typeof head !== 'string' || !COMPARISONS.includes(p[1])) throw new FrameError(`${path} must be a predicate (${PREDICATE_FORM}), got ${JSON.stringify(p).slice(0, 80)}.`);
  return comparisonMask(f.column(head), p[1] as Comparison, p[2], `${path}[2]`);
}

function comparisonMask(c: Column, op: Comparison, value: unknown, where: string): Uint8Array {
  const n = c.length;
  const out = new Uint8Array(n);
  if (op === 'in' || op === 'not_in') {
    if (!Array.isArray(value)) throw new FrameError(`${where}: ${op} takes a list of values, got ${describe(value)}.`);
    const set = new Set(value.map((v, i) => sameKind(c, v, `${where}[${i}]`, true)));
    const hit = op === 'in' ? 1 : 0;
    for (let i = 0; i < n; i++) out[i] = (isMissing(c[i]) ? set.has(null) : set.has(c[i])) ? hit : 1 - hit;
    return out;
  }
  const v = sameKind(c, value, where, true);
  if (v === null) {
    if (op !== '==' && op !== '!=') throw new FrameError(`${where}: null (missing) can only be compared with == or !=.`);
    for (let i = 0; i < n; i++) out[i] = isMissing(c[i]) === (op === '==') ? 1 : 0;
    return out;
  }
  const test = {
    '==': (x: Scalar) => x === v,
    '!=': (x: Scalar) => x !== v,
    '<': (x: Scalar) => x !== null && x < v,
    '<=': (x: Scalar) => x !== null && x <= v,
    '>': (x: Scalar) => x !== null && x > v,
    '>=': (x: Scalar) => x !== null && x >= v,
  }[op];
  for (let i = 0; i < n; i++) out[i] = test(c[i]) ? 1 : 0;
  return out;
}

function maskIndices(m: Uint8Array): Int32Array {
  let k = 0;
  for (let i = 0; i < m.length; i++) k += m[i];
  const idx = new Int32Array(k);
  for (let i = 0, j = 0; i < m.length; i++) if (m[i]) idx[j++] = i;
  return idx;
}

// ---------------------------------------------------------------- expressions

const EXPR_FORM = 'a number, {"col": name}, or [op, expr, expr] with op one of + - * /';
const ARITH: Record<string, (a: number, b: number) => number> = { '+': (a, b) => a + b, '-': (a, b) => a - b, '*': (a, b) => a * b, '/': (a, b) => a / b };

/** A number (constant) or a Float64Array (one value per row). */
function evalExpr(f: Frame, e: unknown, path: string, depth = 0): number | Float64Array {
  if (depth > 64) throw new FrameError(`${path}: expressions nest more than 64 deep.`);
  if (typeof e === 'number') return e;
  if (Array.isArray(e)) {
    const fn = typeof e[0] === 'string' && Object.hasOwn(ARITH, e[0]) ? ARITH[e[0]] : undefined;
    if (e.length !== 3 || !fn) throw new FrameError(`${path} must be ${EXPR_FORM}, got ${JSON.stringify(e).slice(0, 80)}.`);
    const a = evalExpr(f, e[1], `${path}[1]`, depth + 1);
    const b = evalExpr(f, e[2], `${path}[2]`, depth + 1);
    if (typeof a === 'number' && typeof b === 'number') return fn(a, b);
    const out = new Float64Array(f.length);
    for (let i = 0; i < out.length; i++) out[i] = fn(typeof a === 'number' ? a : a[i], typeof b === 'number' ? b : b[i]);
    return out;
  }
  if (typeof e === 'object' && e !== null && Object.keys(e).length === 1 && typeof (e as { col?: unknown }).col === 'string') {
    const c = f.numeric((e as { col: string }).col);
    return c instanceof Float64Array ? c : Float64Array.from(c);
  }
  throw new FrameError(`${path} must be ${EXPR_FORM}, got ${describe(e)}.`);
}

// ---------------------------------------------------------------- keys, sorting

/**
 * Dense integer codes for the key tuples of the rows of one or more frames
 * (frame i's rows get codes[i]): equal tuples get equal codes, numbered in
 * order of first appearance; -1 when any part of the key is missing. Each key
 * column is factorized with a Map, then the columns are combined pairwise
 * (code * cardinality + code, re-factorized), so no per-row strings are built.
 */
function rowCodes(fs: Frame[], by: string[]): { codes: Int32Array[]; count: number } {
  let acc: Int32Array[] | undefined;
  let count = 0;
  for (const name of by) {
    const seen = new Map<number | string, number>();
    const cc = fs.map((f) => {
      const c = f.column(name);
      const out = new Int32Array(c.length);
      for (let i = 0; i < c.length; i++) {
        const v = c[i];
        if (v === null || v !== v) {
          out[i] = -1;
          continue;
        }
        let k = seen.get(v);
        if (k === undefined) seen.set(v, (k = seen.size));
        out[i] = k;
      }
      return out;
    });
    if (acc === undefined) {
      acc = cc;
      count = seen.size;
      continue;
    }
    const card = seen.size;
    const pairs = new Map<number, number>();
    acc = acc.map((a, fi) => {
      const b = cc[fi];
      for (let i = 0; i < a.length; i++) {
        if (a[i] < 0 || b[i] < 0) {
          a[i] = -1;
          continue;
        }
        const key = a[i] * card + b[i];
        let k = pairs.get(key);
        if (k === undefined) pairs.set(key, (k = pairs.size));
        a[i] = k;
      }
      return a;
    });
    count = pairs.size;
  }
  return { codes: acc ?? fs.map((f) => new Int32Array(f.length)), count };
}

interface Groups {
  /** Group of each row; -1 when a key is missing (the row is dropped). */
  ids: Int32Array;
  /** First row of each group, in order of first appearance. */
  first: Int32Array;
}

function groupRows(f: Frame, by: string[]): Groups {
  const { codes, count } = rowCodes([f], by);
  const ids = codes[0];
  const first = new Int32Array(count).fill(-1);
  for (let i = 0; i < ids.length; i++) if (ids[i] >= 0 && first[ids[i]] < 0) first[ids[i]] = i;
  return { ids, first };
}

/**
 * Rank of each row's value among the column's distinct values (reversed when
 * descending); missing values rank `card`, after all others, either way.
 */
function ranks(c: Column, ascending: boolean): { rank: Float64Array; card: number } {
  const { codes, count: card } = rowCodes([new Frame([['c', c]])], ['c']);
  const values: (number | string)[] = new Array(card);
  for (let i = 0; i < c.length; i++) if (codes[0][i] >= 0) values[codes[0][i]] = c[i] as number | string;
  const order = Array.from({ length: card }, (_, i) => i);
  order.sort((a, b) => (values[a] < values[b] ? -1 : values[a] > values[b] ? 1 : 0));
  const rankOf = new Int32Array(card);
  order.forEach((code, r) => (rankOf[code] = ascending ? r : card - 1 - r));
  const rank = new Float64Array(c.length);
  for (let i = 0; i < c.length; i++) rank[i] = codes[0][i] < 0 ? card : rankOf[codes[0][i]];
  return { rank, card };
}

/**
 * A stable sort of the rows by the columns. One numeric column is sorted
 * directly; otherwise each column becomes ranks, combined into one number
 * per row (rank1 * (card2 + 1) + rank2 ...) and sorted as one numeric column.
 */
function sortIndices(f: Frame, by: string[], ascending: boolean[]): Int32Array {
  const cols = by.map((b) => f.column(b));
  if (cols.length === 1 && isNumericColumn(cols[0])) return argsortNumeric(cols[0], ascending[0]);
  const rs = cols.map((c, j) => ranks(c, ascending[j]));
  if (rs.reduce((p, r) => p * (r.card + 1), 1) <= Number.MAX_SAFE_INTEGER) {
    const key = new Float64Array(f.length);
    for (const { rank, card } of rs) for (let i = 0; i < key.length; i++) key[i] = key[i] * (card + 1) + rank[i];
    return argsortNumeric(key, true);
  }
  const idx = Array.from({ length: f.length }, (_, i) => i);
  idx.sort((a, b) => {
    for (const { rank } of rs) if (rank[a] !== rank[b]) return rank[a] - rank[b];
    return 0;
  });
  return Int32Array.from(idx);
}

/**
 * Stable argsort of one numeric column, NaN last: insertion sort of runs of
 * 16, then bottom-up merges over (key, index) pairs. About twice as fast
 * as Array.prototype.sort with a comparator (docs/dataframes.md).
 */
function argsortNumeric(c: NumericColumn, ascending: boolean): Int32Array {
  const n = c.length;
  let a = new Int32Array(n);
  let m = 0;
  for (let i = 0; i < n; i++) if (c[i] === c[i]) a[m++] = i;
  if (m < n) {
    let t = m;
    for (let i = 0; i < n; i++) if (c[i] !== c[i]) a[t++] = i;
  }
  const tail = a.slice(m);
  let ka = new Float64Array(m);
  for (let i = 0; i < m; i++) ka[i] = ascending ? c[a[i]] : -c[a[i]];
  const RUN = 16;
  for (let lo = 0; lo < m; lo += RUN) {
    const hi = Math.min(lo + RUN, m);
    for (let i = lo + 1; i < hi; i++) {
      const k = ka[i];
      const v = a[i];
      let j = i - 1;
      while (j >= lo && ka[j] > k) {
        ka[j + 1] = ka[j];
        a[j + 1] = a[j];
        j--;
      }
      ka[j + 1] = k;
      a[j + 1] = v;
    }
  }
  let b = new Int32Array(n);
  let kb = new Float64Array(m);
  for (let w = RUN; w < m; w *= 2) {
    for (let lo = 0; lo < m; lo += 2 * w) {
      const mid = Math.min(lo + w, m);
      const hi = Math.min(lo + 2 * w, m);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) {
        if (ka[j] < ka[i]) (kb[k] = ka[j], b[k++] = a[j++]);
        else (kb[k] = ka[i], b[k++] = a[i++]);
      }
      while (i < mid) (kb[k] = ka[i], b[k++] = a[i++]);
      while (j < hi) (kb[k] = ka[j], b[k++] = a[j++]);
    }
    [a, b] = [b, a];
    [ka, kb] = [kb, ka];
  }
  a.set(tail, m);
  return a;
}

function ascendingList(v: unknown, n: number): boolean[] {
  if (v === undefined) return new Array(n).fill(true);
  if (typeof v === 'boolean') return new Array(n).fill(v);
  if (Array.isArray(v) && v.length === n && v.every((x) => typeof x === 'boolean')) return v;
  throw new FrameError(`ascending must be true, false, or a list of ${n} booleans (one per sort column), got ${describe(v)}.`);
}

// ---------------------------------------------------------------- groupby

const AGGS = ['sum', 'mean', 'count', 'min', 'max', 'std', 'var'] as const;
type Agg = (typeof AGGS)[number];
type Stat = 'count' | 'sum' | 'mean' | 'm2' | 'min' | 'max';
const STATS_OF: Record<Agg, Stat[]> = { count: ['count'], sum: ['sum'], mean: ['count', 'mean'], var: ['count', 'mean', 'm2'], std: ['count', 'mean', 'm2'], min: ['min'], max: ['max'] };

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
  if (!Array.isArray(byList) || byList.length === 0 || !byList.every((b) => typeof b === 'string')) throw new FrameError(`by must be a column name or a non-empty list of names, got ${describe(by)}.`);
  if (new Set(byList).size !== byList.length) throw new FrameError('by names a column twice.');
  if (typeof aggs !== 'object' || aggs === null || Array.isArray(aggs) || Object.keys(aggs).length === 0) {
    throw new FrameError(`aggs must be an object mapping output names to [column, agg] (agg one of ${AGGS.join(', ')}), e.g. {"mean_grade": ["grade", "mean"]}; got ${describe(aggs)}.`);
  }
  const spec: GroupSpec = { by: byList as string[], aggs: [], stats: new Map() };
  for (const [out, a] of Object.entries(aggs)) {
    if (!Array.isArray(a) || a.length !== 2 || typeof a[0] !== 'string' || !AGGS.includes(a[1])) {
      throw new FrameError(`aggs[${JSON.stringify(out)}] must be [column, agg] with agg one of ${AGGS.join(', ')}, got ${JSON.stringify(a)?.slice(0, 80)}.`);
    }
    if (spec.by.includes(out)) throw new FrameError(`aggs[${JSON.stringify(out)}]: the output name is also a group column; rename it.`);
    if (spec.by.includes(a[0])) throw new FrameError(`aggs[${JSON.stringify(out)}]: column ${JSON.stringify(a[0])} is a group column and cannot be aggregated.`);
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
  for (const [col, stats] of spec.stats) for (const s of ['count', 'sum', 'mean', 'm2', 'min', 'max'] as Stat[]) if (stats.has(s)) names.push(statName(s, col));
  if (new Set(names).size !== names.length) throw new FrameError(`a group column is named like a statistic column (${listNames(names)}); rename it.`);
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
      if (g < 0 || v !== v) continue;
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
        if (g < 0 || v !== v) continue;
        const d = v - mean[g];
        m2[g] += d * d;
      }
    }
    const byStat: Record<Stat, Column> = { count, sum, mean, m2, min, max };
    for (const s of ['count', 'sum', 'mean', 'm2', 'min', 'max'] as Stat[]) if (stats.has(s)) out.push([statName(s, col), byStat[s]]);
  }
  return new Frame(out, G);
}

/** Merges partials: groups with equal keys become one row (Chan et al. for mean and m2). */
function groupbyCombine(partials: Frame[], spec: GroupSpec): Frame {
  const names = partialColumns(spec);
  partials.forEach((p, i) => {
    const missing = names.filter((n) => !p.has(n));
    if (missing.length) throw new FrameError(`partial ${i} has no column ${listNames(missing)}: give groupby_partial, groupby_combine and groupby_finalize the same by and aggs.`);
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
      const better = (v: Scalar, cur: Scalar) => !isMissing(v) && (isMissing(cur) || (s === 'min' ? v! < cur! : v! > cur!));
      const col2 = isNumericColumn(c) ? new Float64Array(G).fill(NaN) : (new Array(G).fill(null) as StringColumn);
      for (let i = 0; i < all.length; i++) {
        const g = ids[i];
        if (g >= 0 && better(c[i], col2[g])) col2[g] = c[i] as never;
      }
      res.set(s, col2);
    }
    for (const s of ['count', 'sum', 'mean', 'm2', 'min', 'max'] as Stat[]) if (res.has(s)) out.push([statName(s, col), res.get(s)!]);
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
  return result.take(sortIndices(result, spec.by, spec.by.map(() => true)));
}

// ---------------------------------------------------------------- partitioning

/**
 * The part of a value for hash partitioning into k parts, the same in every
 * process: FNV-1a (32-bit) over the value's bytes (a number: its IEEE-754
 * float64, little-endian, -0 as 0; a string: UTF-8), then murmur3's fmix32
 * finalizer, then modulo k. Missing values go to part 0.
 */
export function hashPart(v: number | string | null, k: number): number {
  if (isMissing(v)) return 0;
  let h = 0x811c9dc5;
  if (typeof v === 'number') {
    SCRATCH_VIEW.setFloat64(0, v === 0 ? 0 : v, true);
    for (let i = 0; i < 8; i++) h = Math.imul(h ^ SCRATCH_BYTES[i], 0x01000193);
  } else {
    const s = v as string;
    for (let i = 0; i < s.length; i++) {
      let cp = s.charCodeAt(i);
      if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) cp = 0x10000 + ((cp - 0xd800) << 10) + (s.charCodeAt(++i) - 0xdc00);
      else if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
      if (cp < 0x80) h = Math.imul(h ^ cp, 0x01000193);
      else if (cp < 0x800) {
        h = Math.imul(h ^ (0xc0 | (cp >> 6)), 0x01000193);
        h = Math.imul(h ^ (0x80 | (cp & 63)), 0x01000193);
      } else if (cp < 0x10000) {
        h = Math.imul(h ^ (0xe0 | (cp >> 12)), 0x01000193);
        h = Math.imul(h ^ (0x80 | ((cp >> 6) & 63)), 0x01000193);
        h = Math.imul(h ^ (0x80 | (cp & 63)), 0x01000193);
      } else {
        h = Math.imul(h ^ (0xf0 | (cp >> 18)), 0x01000193);
        h = Math.imul(h ^ (0x80 | ((cp >> 12) & 63)), 0x01000193);
        h = Math.imul(h ^ (0x80 | ((cp >> 6) & 63)), 0x01000193);
        h = Math.imul(h ^ (0x80 | (cp & 63)), 0x01000193);
      }
    }
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % k;
}
const SCRATCH_BYTES = new Uint8Array(8);
const SCRATCH_VIEW = new DataView(SCRATCH_BYTES.buffer);

/** Rows split into k frames by part number, each keeping the input's row order. */
function splitByPart(f: Frame, part: Int32Array, k: number): Frame[] {
  const counts = new Int32Array(k + 1);
  for (let i = 0; i < part.length; i++) counts[part[i] + 1]++;
  for (let j = 0; j < k; j++) counts[j + 1] += counts[j];
  const order = new Int32Array(part.length);
  const at = counts.slice(0, k);
  for (let i = 0; i < part.length; i++) order[at[part[i]]++] = i;
  return Array.from({ length: k }, (_, j) => f.take(order.subarray(counts[j], counts[j + 1])));
}

function checkBoundaries(c: Column, b: unknown, k: number): Scalar[] {
  if (!Array.isArray(b) || b.length !== k - 1) throw new FrameError(`boundaries must be a sorted list of k - 1 = ${k - 1} values, got ${Array.isArray(b) ? `${b.length} values` : describe(b)}.`);
  b.forEach((v, i) => {
    sameKind(c, v, `boundaries[${i}]`, false);
    if (i > 0 && v < b[i - 1]) throw new FrameError(`boundaries must be sorted: boundaries[${i}] is less than boundaries[${i - 1}].`);
  });
  return b;
}

/** Number of boundaries <= v (binary search): part j holds [b[j-1], b[j]). Missing values go to the last part. */
function rangePart(v: Scalar, b: Scalar[]): number {
  if (isMissing(v)) return b.length;
  let lo = 0;
  let hi = b.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (b[mid]! <= v!) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function sampleQuantiles(c: Column, q: number[]): Scalar[] {
  const vals = (isNumericColumn(c) ? Array.from(c).filter((v) => v === v) : (c.filter((v) => v !== null) as string[])) as (number | string)[];
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
  if (pts.some((p) => typeof p.v !== typeof pts[0].v)) throw new FrameError('the quantile lists mix numbers and strings.');
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

// ---------------------------------------------------------------- merge

const MAX_MERGE_ROWS = 10_000_000;

function hashJoin(left: Frame, right: Frame, on: string[], how: 'inner' | 'left'): Frame {
  on.forEach((k) => {
    const a = isNumericColumn(left.column(k));
    if (a !== isNumericColumn(right.column(k))) throw new FrameError(`key column ${JSON.stringify(k)} holds ${a ? 'numbers' : 'strings'} on the left and ${a ? 'strings' : 'numbers'} on the right.`);
  });
  const { codes, count } = rowCodes([left, right], on);
  const [lc, rc] = codes;
  // Rows of the right frame by key: headOf[code] is the first, next[row] the following one.
  const headOf = new Int32Array(count).fill(-1);
  const next = new Int32Array(right.length).fill(-1);
  for (let i = right.length - 1; i >= 0; i--) {
    if (rc[i] < 0) continue;
    next[i] = headOf[rc[i]];
    headOf[rc[i]] = i;
  }
  const li: number[] = [];
  const ri: number[] = [];
  for (let i = 0; i < left.length; i++) {
    let r = lc[i] < 0 ? -1 : headOf[lc[i]];
    if (r === -1) {
      if (how === 'left') {
        li.push(i);
        ri.push(-1);
      }
      continue;
    }
    for (; r !== -1; r = next[r]) {
      li.push(i);
      ri.push(r);
    }
    if (li.length > MAX_MERGE_ROWS) throw new FrameError(`the join gives more than ${MAX_MERGE_ROWS} rows: the keys repeat too often on both sides.`);
  }
  const lothers = left.names.filter((n) => !on.includes(n));
  const rothers = right.names.filter((n) => !on.includes(n));
  const clash = new Set(lothers.filter((n) => rothers.includes(n)));
  const out: [string, Column][] = [];
  for (const n of on) out.push([n, takeColumn(left.column(n), li)]);
  for (const n of lothers) out.push([clash.has(n) ? `${n}_x` : n, takeColumn(left.column(n), li)]);
  for (const n of rothers) out.push([clash.has(n) ? `${n}_y` : n, takeOrMissing(right.column(n), ri)]);
  return new Frame(out, li.length);
}

/** Like takeColumn, with -1 giving a missing value (numbers become Float64Array to hold NaN). */
function takeOrMissing(c: Column, idx: number[]): Column {
  if (!idx.includes(-1)) return takeColumn(c, idx);
  if (isNumericColumn(c)) return Float64Array.from(idx, (i) => (i < 0 ? NaN : c[i]));
  return idx.map((i) => (i < 0 ? null : c[i]));
}

// ---------------------------------------------------------------- the ops

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

export const frameOps: OpDefinition[] = [
  frameOp('frame.from_records', ['rows'], 'a frame from a list of row objects {column: value}; numbers (null = missing) give a float64 column, strings a string column.', ([rows]) => {
    if (!Array.isArray(rows)) throw new FrameError(`rows must be an array of objects {column: value}, got ${describe(rows)}.`);
    const names: string[] = [];
    const seen = new Set<string>();
    rows.forEach((r, i) => {
      if (typeof r !== 'object' || r === null || Array.isArray(r) || ArrayBuffer.isView(r)) throw new FrameError(`rows[${i}] is ${describe(r)}; each row is an object {column: value}.`);
      for (const k of Object.keys(r)) if (!seen.has(k)) (seen.add(k), names.push(k));
    });
    return new Frame(names.map((n) => [n, columnFromValues(rows.map((r) => (r as Record<string, unknown>)[n] ?? null), `column ${JSON.stringify(n)}`)] as const), rows.length);
  }),
  frameOp('frame.from_columns', ['columns'], 'a frame from {column: values}; values are a typed array, numbers (null = missing) or strings, all the same length.', ([cols]) => {
    if (typeof cols !== 'object' || cols === null || Array.isArray(cols) || cols instanceof Frame) throw new FrameError(`columns must be an object mapping column names to arrays, got ${describe(cols)}.`);
    return new Frame(Object.entries(cols).map(([n, v]) => [n, columnFromValues(v, `columns[${JSON.stringify(n)}]`)] as const));
  }),
  frameOp('frame.to_records', ['f'], 'the rows of a frame as objects {column: value}; missing values are null.', ([f]) => asFrame(f, 'f').toRecords()),
  frameOp('frame.len', ['f'], 'the number of rows of a frame.', ([f]) => asFrame(f, 'f').length),
  frameOp('frame.columns', ['f'], 'the column names of a frame, in order.', ([f]) => asFrame(f, 'f').names),
  frameOp('frame.filter', ['f', 'predicate'], 'the rows where predicate holds: [column, op, value] (==, !=, <, <=, >, >=, in, not_in), ["and", p, ...], ["or", p, ...], ["not", p].', ([f, p]) => {
    const fr = asFrame(f, 'f');
    return fr.take(maskIndices(predicateMask(fr, p, 'predicate')));
  }),
  frameOp('frame.assign', ['f', 'columns'], 'new or replaced float64 columns {name: expr}, in order; expr is a number, {"col": name} or [+|-|*|/, expr, expr].', ([f, a]) => {
    let fr = asFrame(f, 'f');
    if (typeof a !== 'object' || a === null || Array.isArray(a)) throw new FrameError(`columns must be an object {newColumn: expr}, got ${describe(a)}.`);
    for (const [name, e] of Object.entries(a)) {
      const v = evalExpr(fr, e, `columns[${JSON.stringify(name)}]`);
      fr = fr.with(name, typeof v === 'number' ? new Float64Array(fr.length).fill(v) : v);
    }
    return fr;
  }),
  frameOp('frame.groupby_partial', ['f', 'by', 'aggs'], 'per-group statistics of one partition (count, sum, mean, m2, min, max as aggs need), to merge with groupby_combine.', ([f, by, aggs]) => {
    const fr = asFrame(f, 'f');
    return groupbyPartial(fr, groupSpecFor(fr, by, aggs));
  }),
  frameOp('frame.groupby_combine', ['partials', 'by', 'aggs'], 'merges a list of groupby partials into one partial, exactly (Chan et al. for mean, var, std).', ([ps, by, aggs]) => {
    const list = frames(ps, 'partials');
    return groupbyCombine(list, groupSpecForPartials(by, aggs));
  }),
  frameOp('frame.groupby_finalize', ['partial', 'by', 'aggs', 'ddof?'], 'the groupby result from a partial: group columns then one column per agg, sorted by the group keys; var and std divide by count - ddof (default 1).', ([p, by, aggs, ddof]) => {
    const fr = asFrame(p, 'partial');
    return groupbyFinalize(fr, groupSpecForPartials(by, aggs), ddofArg(ddof));
  }),
  frameOp('frame.groupby_agg', ['f', 'by', 'aggs', 'ddof?'], 'groupby of one partition: {output: [column, sum|mean|count|min|max|std|var]}, sorted by the group keys.', ([f, by, aggs, ddof]) => {
    const fr = asFrame(f, 'f');
    const spec = groupSpecFor(fr, by, aggs);
    return groupbyFinalize(groupbyPartial(fr, spec), spec, ddofArg(ddof));
  }),
  frameOp('frame.sort_values', ['f', 'by', 'ascending?'], 'the rows sorted by a column or list of columns (stable; missing values last); ascending is a boolean or one per column.', ([f, by, asc]) => {
    const fr = asFrame(f, 'f');
    const cols = columnList(fr, by, 'by');
    return fr.take(sortIndices(fr, cols, ascendingList(asc, cols.length)));
  }),
  frameOp('frame.head', ['f', 'n?'], 'the first n rows (default 5).', ([f, n]) => {
    const fr = asFrame(f, 'f');
    return fr.slice(0, n === undefined ? 5 : integer(n, 'n', 0, Number.MAX_SAFE_INTEGER));
  }),
  frameOp('frame.concat', ['frames'], 'the rows of a list of frames with the same columns, in order.', ([fs]) => Frame.concat(frames(fs, 'frames'))),
  frameOp('frame.quantiles', ['f', 'column', 'q'], 'sample quantiles of a column at probabilities q (sorted, in [0, 1]; numbers interpolate linearly, strings take the lower value); [] for no values.', ([f, col, q]) => {
    const fr = asFrame(f, 'f');
    const name = columnName(fr, col, 'column');
    if (!Array.isArray(q) || q.length === 0 || !q.every((p, i) => typeof p === 'number' && p >= 0 && p <= 1 && (i === 0 || p >= q[i - 1]))) {
      throw new FrameError(`q must be a non-empty sorted list of probabilities in [0, 1], e.g. [0.1, 0.3, 0.5, 0.7, 0.9]; got ${JSON.stringify(q)?.slice(0, 80)}.`);
    }
    return sampleQuantiles(fr.column(name), q as number[]);
  }),
  frameOp('frame.boundaries', ['quantiles', 'nparts', 'counts?'], 'nparts - 1 sorted split points from a list of quantile lists (one per partition, weighted by counts, default equal).', ([qs, nparts, counts]) => {
    if (!Array.isArray(qs) || qs.length === 0 || !qs.every(Array.isArray)) throw new FrameError(`quantiles must be a non-empty list of quantile lists (outputs of frame.quantiles), got ${describe(qs)}.`);
    const k = integer(nparts, 'nparts', 1, 100_000);
    if (counts !== undefined && (!Array.isArray(counts) || counts.length !== qs.length || !counts.every((c) => typeof c === 'number' && c >= 0))) {
      throw new FrameError(`counts must be a list of ${qs.length} row counts (one per quantile list, e.g. from frame.len), got ${describe(counts)}.`);
    }
    return mergeBoundaries(qs as Scalar[][], k, counts as number[] | undefined);
  }),
  frameOp('frame.shuffle_group', ['f', 'column', 'k', 'boundaries?'], 'splits a frame into exactly k frames by a hash of column (equal values, same part) or, with k - 1 sorted boundaries, by range.', ([f, col, k, b]) => {
    const fr = asFrame(f, 'f');
    const c = fr.column(columnName(fr, col, 'column'));
    const parts = integer(k, 'k', 1, 100_000);
    const part = new Int32Array(fr.length);
    if (b === undefined || b === null) for (let i = 0; i < c.length; i++) part[i] = hashPart(c[i], parts);
    else {
      const bs = checkBoundaries(c, b, parts);
      for (let i = 0; i < c.length; i++) part[i] = rangePart(c[i], bs);
    }
    return splitByPart(fr, part, parts);
  }),
  frameOp('frame.merge', ['left', 'right', 'on', 'how?'], 'joins two frames on key column(s) by hashing (how "inner" or "left"); clashing column names get _x and _y.', ([l, r, on, how]) => {
    const left = asFrame(l, 'left');
    const right = asFrame(r, 'right');
    const keys = columnList(left, on, 'on');
    keys.forEach((k) => columnName(right, k, 'on (right frame)'));
    const mode = how ?? 'inner';
    if (mode !== 'inner' && mode !== 'left') throw new FrameError(`how must be "inner" or "left", got ${describe(how)}.`);
    return hashJoin(left, right, keys, mode);
  }),
];
