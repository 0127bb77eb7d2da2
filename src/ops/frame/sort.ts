/**
 * The stable row sort behind frame.sort_values and groupby's sorted output:
 * sortIndices orders the rows of a frame by one or more columns (ascending or
 * descending per column, missing values last), using a merge-sort argsort over
 * typed arrays for numeric keys and ranks (keys.ts) for the rest.
 */
import { Frame, isNumericColumn, type Column, type NumericColumn } from '../../shared/values/frame.ts';
import { rowCodes } from './keys.ts';

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
export function sortIndices(f: Frame, by: string[], ascending: boolean[]): Int32Array {
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
  for (let i = 0; i < n; i++) if (!Number.isNaN(c[i])) a[m++] = i;
  if (m < n) {
    let t = m;
    for (let i = 0; i < n; i++) if (Number.isNaN(c[i])) a[t++] = i;
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
        if (ka[j] < ka[i]) {
          kb[k] = ka[j];
          b[k++] = a[j++];
        } else {
          kb[k] = ka[i];
          b[k++] = a[i++];
        }
      }
      for (; i < mid; i++, k++) {
        kb[k] = ka[i];
        b[k] = a[i];
      }
      for (; j < hi; j++, k++) {
        kb[k] = ka[j];
        b[k] = a[j];
      }
    }
    [a, b] = [b, a];
    [ka, kb] = [kb, ka];
  }
  a.set(tail, m);
  return a;
}
