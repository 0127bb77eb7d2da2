/**
 * Dataframe ops over Frame partitions (src/shared/values/frame.ts). A Dask dataframe
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
 *
 * The modules: args.ts (argument handling), build.ts (frames from and to
 * JSON), filter.ts (predicates and assign expressions), groupby.ts,
 * order.ts (sort, head, concat, quantiles, boundaries), shuffle.ts
 * (shuffle_group and hashPart), merge.ts; keys.ts and sort.ts hold the key
 * factorization and row sort several of them share.
 */
import type { OpDefinition } from '../registry.ts';
import { buildOps } from './build.ts';
import { filterOps } from './filter.ts';
import { groupbyOps } from './groupby.ts';
import { mergeOps } from './merge.ts';
import { orderOps } from './order.ts';
import { shuffleOps } from './shuffle.ts';

export { hashPart } from './shuffle.ts';

export const frameOps: OpDefinition[] = [
  ...buildOps,
  ...filterOps,
  ...groupbyOps,
  ...orderOps,
  ...shuffleOps,
  ...mergeOps,
];
