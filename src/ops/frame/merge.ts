/**
 * frame.merge: an inner or left hash join of two frames on one or more key
 * columns, with pandas' _x and _y suffixes for clashing column names. A
 * distributed merge shuffles both sides by the key (shuffle.ts) and merges
 * part j with part j.
 */
import { Frame, FrameError, describe, isNumericColumn, takeColumn, type Column } from '../../shared/values/frame.ts';
import type { OpDefinition } from '../registry.ts';
import { asFrame, columnList, columnName, frameOp } from './args.ts';
import { rowCodes } from './keys.ts';

const MAX_MERGE_ROWS = 10_000_000;

function hashJoin(left: Frame, right: Frame, on: string[], how: 'inner' | 'left'): Frame {
  on.forEach((k) => {
    const a = isNumericColumn(left.column(k));
    // An empty side has no values to disagree with (its column type is a guess).
    if (a !== isNumericColumn(right.column(k)) && left.length > 0 && right.length > 0)
      throw new FrameError(
        `key column ${JSON.stringify(k)} holds ${a ? 'numbers' : 'strings'} on the left and ${a ? 'strings' : 'numbers'} on the right.`,
      );
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
    if (li.length > MAX_MERGE_ROWS)
      throw new FrameError(`the join gives more than ${MAX_MERGE_ROWS} rows: the keys repeat too often on both sides.`);
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

export const mergeOps: OpDefinition[] = [
  frameOp(
    'frame.merge',
    ['left', 'right', 'on', 'how?'],
    'joins two frames on key column(s) by hashing (how "inner" or "left"); clashing column names get _x and _y.',
    ([l, r, on, how]) => {
      const left = asFrame(l, 'left');
      const right = asFrame(r, 'right');
      const keys = columnList(left, on, 'on');
      keys.forEach((k) => columnName(right, k, 'on (right frame)'));
      const mode = how ?? 'inner';
      if (mode !== 'inner' && mode !== 'left')
        throw new FrameError(`how must be "inner" or "left", got ${describe(how)}.`);
      return hashJoin(left, right, keys, mode);
    },
  ),
];
