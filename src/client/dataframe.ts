/**
 * Partitioned dataframes, as `dask.dataframe`: a DataFrame is a list of
 * partitions, each a Frame computed by a task of the built-in `frame.*` ops
 * (docs/dataframes.md). Nothing runs until `compute()` or `persist()`;
 * computing gives the rows as objects.
 *
 *   const df = fromRecords(rows, { npartitions: 4 });
 *   await df.groupby('age').mean().compute(client);
 *
 * Shuffles (setIndex, sortValues, merge) are written as Dask writes them
 * (split, getitem per part, concat); weft's shuffle rewrite makes each one
 * stage of multiple-return tasks.
 */
import { type Computable, type PersistPlan, type Persistable, type Target, Delayed, futuresLayer } from './delayed.ts';
import { type Layers, type Node, combineTree, literal, ref, task, withLayer } from './graph.ts';
import { type Runner, defaultRunner } from './runner.ts';
import { tokenName } from './tokenize.ts';

/** Quantiles per partition for range partitioning: enough points that parts come out even. */
const QUANTILES = 20;

export type ColumnType = 'number' | 'string';
export type Agg = 'sum' | 'mean' | 'count' | 'min' | 'max' | 'std' | 'var';
/** A `frame.filter` predicate: [column, op, value], ["and", ...], ["or", ...], ["not", p]. */
export type Predicate = readonly unknown[];
/** A `frame.assign` expression: a number, {col: name} or [op, expr, expr]. */
export type Expr = number | { col: string } | readonly [string, Expr, Expr];

export type Row = Record<string, unknown>;

export class DataFrame implements Computable, Persistable<DataFrame> {
  constructor(
    readonly name: string,
    readonly layers: Layers,
    readonly npartitions: number,
    /** Column names and what they hold, in order (known without computing, as Dask's `meta`). */
    readonly dtypes: Readonly<Record<string, ColumnType>>,
    /** The column the partitions are sorted and split by, after setIndex. */
    readonly index: string | null = null,
  ) {}

  get columns(): string[] {
    return Object.keys(this.dtypes);
  }

  get tokenName(): string {
    return this.name;
  }

  partitionKey(i: number): string {
    return `${this.name}:${i}`;
  }

  partitionKeys(): string[] {
    return Array.from({ length: this.npartitions }, (_, i) => this.partitionKey(i));
  }

  /** The rows where the predicate holds (`["age", ">", 30]`, `["and", p, q]`, ...). */
  filter(predicate: Predicate): DataFrame {
    return this.partitionwise('filter', [predicate], this.dtypes, (p) =>
      task('frame.filter', [ref(p), literal(predicate)]),
    );
  }

  /** New or replaced number columns: `{ total: ['+', { col: 'a' }, { col: 'b' }] }`. */
  assign(columns: Record<string, Expr>): DataFrame {
    const dtypes = { ...this.dtypes };
    for (const c of Object.keys(columns)) dtypes[c] = 'number';
    return this.partitionwise('assign', [columns], dtypes, (p) => task('frame.assign', [ref(p), literal(columns)]));
  }

  groupby(by: string | string[]): GroupBy {
    const list = typeof by === 'string' ? [by] : by;
    for (const b of list)
      if (!(b in this.dtypes))
        throw new RangeError(`groupby: no column ${JSON.stringify(b)}; the columns are ${this.columns.join(', ')}.`);
    return new GroupBy(this, list);
  }

  /**
   * Sorted by `column` across partitions (range-partitioned at sampled
   * quantiles, then each part sorted), with `column` as the index, as Dask's
   * `set_index`.
   */
  setIndex(column: string, options: { npartitions?: number } = {}): DataFrame {
    const sorted = this.sortValues(column, options);
    return new DataFrame(sorted.name, sorted.layers, sorted.npartitions, sorted.dtypes, column);
  }

  /** Sorted by a column or columns across all partitions (range-partitioned by the first column). */
  sortValues(by: string | string[], options: { ascending?: boolean; npartitions?: number } = {}): DataFrame {
    const cols = typeof by === 'string' ? [by] : by;
    for (const c of cols)
      if (!(c in this.dtypes))
        throw new RangeError(`sortValues: no column ${JSON.stringify(c)}; the columns are ${this.columns.join(', ')}.`);
    const ascending = options.ascending ?? true;
    const k = options.npartitions ?? this.npartitions;
    const name = tokenName('sort', this.name, cols, ascending, k);
    const q = Array.from({ length: QUANTILES - 1 }, (_, i) => (i + 1) / QUANTILES);
    const nodes: Record<string, Node> = {};
    const parts = this.partitionKeys();
    parts.forEach((p, i) => {
      nodes[`${name}:q${i}`] = task('frame.quantiles', [ref(p), cols[0], q]);
      nodes[`${name}:n${i}`] = task('frame.len', [ref(p)]);
    });
    nodes[`${name}:bounds`] = task('frame.boundaries', [
      parts.map((_, i) => ref(`${name}:q${i}`)),
      k,
      parts.map((_, i) => ref(`${name}:n${i}`)),
    ]);
    const split = shuffleNodes(nodes, name, parts, cols[0], k, ref(`${name}:bounds`));
    for (let j = 0; j < k; j++) {
      // Descending: the highest range first.
      const part = ascending ? j : k - 1 - j;
      nodes[`${name}:${j}`] = task('frame.sort_values', [split[part], cols.length === 1 ? cols[0] : cols, ascending]);
    }
    return new DataFrame(name, withLayer([this.layers], name, nodes), k, this.dtypes, this.index);
  }

  /**
   * The first `n` rows: of the first partition (Dask's default), of the first
   * `npartitions`, or of all of them with `npartitions: -1`. A one-partition
   * DataFrame: compute it for the rows.
   */
  head(n = 5, options: { npartitions?: number } = {}): DataFrame {
    const count =
      options.npartitions === undefined ? 1 : options.npartitions === -1 ? this.npartitions : options.npartitions;
    if (!Number.isInteger(count) || count < 1 || count > this.npartitions)
      throw new RangeError(`head: npartitions must be -1 or 1 to ${this.npartitions}, got ${options.npartitions}.`);
    const name = tokenName('head', this.name, n, count);
    const heads = this.partitionKeys()
      .slice(0, count)
      .map((p) => task('frame.head', [ref(p), n]));
    const node = heads.length === 1 ? heads[0] : task('frame.head', [task('frame.concat', [heads]), n]);
    return new DataFrame(name, withLayer([this.layers], name, { [`${name}:0`]: node }), 1, this.dtypes, this.index);
  }

  /**
   * A hash join on `on` (inner or left), as Dask's merge of two unsorted
   * frames: both sides are split by the key into the same number of parts,
   * and part j of one is joined with part j of the other.
   */
  merge(other: DataFrame, options: { on: string | string[]; how?: 'inner' | 'left'; npartitions?: number }): DataFrame {
    const on = typeof options.on === 'string' ? [options.on] : options.on;
    for (const c of on) {
      if (!(c in this.dtypes) || !(c in other.dtypes))
        throw new RangeError(`merge: column ${JSON.stringify(c)} must be in both frames.`);
    }
    const how = options.how ?? 'inner';
    const k = options.npartitions ?? Math.max(this.npartitions, other.npartitions);
    const name = tokenName('merge', this.name, other.name, on, how, k);
    const nodes: Record<string, Node> = {};
    const left = shuffleNodes(nodes, `${name}-l`, this.partitionKeys(), on[0], k);
    const right = shuffleNodes(nodes, `${name}-r`, other.partitionKeys(), on[0], k);
    for (let j = 0; j < k; j++)
      nodes[`${name}:${j}`] = task('frame.merge', [left[j], right[j], on.length === 1 ? on[0] : on, how]);
    const dtypes: Record<string, ColumnType> = {};
    for (const [c, t] of Object.entries(this.dtypes)) dtypes[!on.includes(c) && c in other.dtypes ? `${c}_x` : c] = t;
    for (const [c, t] of Object.entries(other.dtypes)) if (!on.includes(c)) dtypes[c in this.dtypes ? `${c}_y` : c] = t;
    return new DataFrame(name, withLayer([this.layers, other.layers], name, nodes), k, dtypes);
  }

  /** The number of rows (a Delayed number). */
  length(): Delayed {
    const key = tokenName('len', this.name);
    const node = task('sum', [this.partitionKeys().map((p) => task('frame.len', [ref(p)]))]);
    return new Delayed(key, withLayer([this.layers], key, { [key]: node }));
  }

  target(): Target {
    const key = `${this.name}:rows`;
    const parts = this.partitionKeys().map(ref);
    const node = task('frame.to_records', [parts.length === 1 ? parts[0] : task('frame.concat', [parts])]);
    return { layers: withLayer([this.layers], key, { [key]: node }), key, revive: (v) => v as Row[] };
  }

  persistPlan(): PersistPlan<DataFrame> {
    const keys = this.partitionKeys();
    return {
      layers: this.layers,
      keys,
      rebuild: (outputs) =>
        new DataFrame(
          this.name,
          new Map([[this.name, futuresLayer(keys, outputs)]]),
          this.npartitions,
          this.dtypes,
          this.index,
        ),
    };
  }

  compute(client: Runner = defaultRunner()): Promise<Row[]> {
    return client.compute(this) as Promise<Row[]>;
  }

  persist(client: Runner = defaultRunner()): Promise<DataFrame> {
    return client.persist(this);
  }

  private partitionwise(
    prefix: string,
    token: unknown[],
    dtypes: Record<string, ColumnType>,
    node: (partition: string) => Node,
  ): DataFrame {
    const name = tokenName(prefix, this.name, ...token);
    const nodes: Record<string, Node> = {};
    this.partitionKeys().forEach((p, i) => (nodes[`${name}:${i}`] = node(p)));
    return new DataFrame(name, withLayer([this.layers], name, nodes), this.npartitions, dtypes, this.index);
  }
}

/**
 * Dask's task-based shuffle of `parts` into k by `column` (by hash, or by
 * range with `bounds`): adds the split and getitem nodes; returns, per output
 * part, the node concatenating its pieces.
 */
function shuffleNodes(
  nodes: Record<string, Node>,
  name: string,
  parts: string[],
  column: string,
  k: number,
  bounds?: Node,
): Node[] {
  parts.forEach((p, i) => {
    nodes[`${name}:split${i}`] = task(
      'frame.shuffle_group',
      bounds === undefined ? [ref(p), column, k] : [ref(p), column, k, bounds],
    );
    for (let j = 0; j < k; j++) nodes[`${name}:get${i}.${j}`] = task('getitem', [ref(`${name}:split${i}`), j]);
  });
  return Array.from({ length: k }, (_, j) => task('frame.concat', [parts.map((_, i) => ref(`${name}:get${i}.${j}`))]));
}

export class GroupBy {
  constructor(
    readonly frame: DataFrame,
    readonly by: string[],
  ) {}

  /**
   * `{output: [column, agg]}` with agg one of sum, mean, count, min, max,
   * std, var: per-partition partials merged exactly in a tree, one partition
   * out, sorted by the group keys.
   */
  agg(aggs: Record<string, readonly [string, Agg]>, options: { ddof?: number } = {}): DataFrame {
    const f = this.frame;
    for (const [out, [col]] of Object.entries(aggs))
      if (!(col in f.dtypes)) throw new RangeError(`agg ${JSON.stringify(out)}: no column ${JSON.stringify(col)}.`);
    const by = this.by.length === 1 ? this.by[0] : this.by;
    const name = tokenName('groupby', f.name, this.by, aggs, options.ddof ?? null);
    const nodes: Record<string, Node> = {};
    const partials = f.partitionKeys().map((p, i) => {
      nodes[`${name}:p${i}`] = task('frame.groupby_partial', [ref(p), by, literal(aggs)]);
      return `${name}:p${i}`;
    });
    const root = combineTree(nodes, name, partials, (inputs) =>
      task('frame.groupby_combine', [inputs, by, literal(aggs)]),
    );
    const finalize = [ref(root), by, literal(aggs)];
    if (options.ddof !== undefined) finalize.push(options.ddof);
    nodes[`${name}:0`] = task('frame.groupby_finalize', finalize);
    const dtypes: Record<string, ColumnType> = {};
    for (const b of this.by) dtypes[b] = f.dtypes[b];
    for (const [out, [col, agg]] of Object.entries(aggs))
      dtypes[out] = agg === 'min' || agg === 'max' ? f.dtypes[col] : 'number';
    return new DataFrame(name, withLayer([f.layers], name, nodes), 1, dtypes);
  }

  mean(): DataFrame {
    return this.every('mean');
  }
  sum(): DataFrame {
    return this.every('sum');
  }
  count(): DataFrame {
    return this.every('count');
  }
  min(): DataFrame {
    return this.every('min');
  }
  max(): DataFrame {
    return this.every('max');
  }
  std(options: { ddof?: number } = {}): DataFrame {
    return this.every('std', options);
  }
  var(options: { ddof?: number } = {}): DataFrame {
    return this.every('var', options);
  }

  /** The same agg of every other number column (count, min and max of string columns too), named as the column, as pandas does. */
  private every(agg: Agg, options: { ddof?: number } = {}): DataFrame {
    const aggs: Record<string, [string, Agg]> = {};
    for (const [col, type] of Object.entries(this.frame.dtypes)) {
      if (this.by.includes(col)) continue;
      if (type === 'string' && agg !== 'count' && agg !== 'min' && agg !== 'max') continue;
      aggs[col] = [col, agg];
    }
    if (Object.keys(aggs).length === 0)
      throw new RangeError(`groupby(${this.by.join(', ')}).${agg}(): no column to aggregate.`);
    return this.agg(aggs, options);
  }
}

/**
 * A DataFrame from rows (objects of column -> number, string or null), in
 * `npartitions` partitions of about equal size that travel in the graph as
 * literals. A column holds numbers unless its first non-null value is a string.
 */
export function fromRecords(rows: readonly Row[], options: { npartitions?: number } = {}): DataFrame {
  const asked = options.npartitions ?? 1;
  if (!Number.isInteger(asked) || asked < 1)
    throw new RangeError(`fromRecords: npartitions must be a positive integer, got ${asked}.`);
  // No empty partitions: an empty frame has no columns to concatenate with.
  const n = Math.min(asked, Math.max(1, rows.length));
  const dtypes: Record<string, ColumnType> = {};
  const typed = new Set<string>();
  for (const row of rows) {
    for (const [c, v] of Object.entries(row)) {
      if (!(c in dtypes)) dtypes[c] = 'number';
      if (v !== null && v !== undefined && !typed.has(c)) {
        typed.add(c);
        dtypes[c] = typeof v === 'string' ? 'string' : 'number';
      }
    }
  }
  const name = tokenName('from-records', rows, n);
  const size = Math.ceil(rows.length / n);
  const nodes: Record<string, Node> = {};
  for (let i = 0; i < n; i++)
    nodes[`${name}:${i}`] = task('frame.from_records', [literal(rows.slice(i * size, (i + 1) * size))]);
  return new DataFrame(name, new Map([[name, nodes]]), n, dtypes);
}
