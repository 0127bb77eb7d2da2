/**
 * Key factorization shared by groupby, merge and sorting: rowCodes gives the
 * rows of one or more frames dense integer codes for their key tuples (equal
 * tuples, equal codes; -1 when part of the key is missing), and groupRows
 * turns those codes into groups of one frame.
 */
import type { Frame } from '../../shared/values/frame.ts';

/**
 * Dense integer codes for the key tuples of the rows of one or more frames
 * (frame i's rows get codes[i]): equal tuples get equal codes, numbered in
 * order of first appearance; -1 when any part of the key is missing. Each key
 * column is factorized with a Map, then the columns are combined pairwise
 * (code * cardinality + code, re-factorized), so no per-row strings are built.
 */
export function rowCodes(fs: Frame[], by: string[]): { codes: Int32Array[]; count: number } {
  let acc: Int32Array[] | undefined;
  let count = 0;
  for (const name of by) {
    const seen = new Map<number | string, number>();
    const cc = fs.map((f) => {
      const c = f.column(name);
      const out = new Int32Array(c.length);
      for (let i = 0; i < c.length; i++) {
        const v = c[i];
        if (v === null || Number.isNaN(v)) {
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

export function groupRows(f: Frame, by: string[]): Groups {
  const { codes, count } = rowCodes([f], by);
  const ids = codes[0];
  const first = new Int32Array(count).fill(-1);
  for (let i = 0; i < ids.length; i++) if (ids[i] >= 0 && first[ids[i]] < 0) first[ids[i]] = i;
  return { ids, first };
}
