/**
 * Partitioning for shuffles: frame.shuffle_group splits a frame into exactly k
 * frames, by hashPart of a column (equal values land in the same part in every
 * process) or by range against k - 1 sorted boundaries. hashPart's algorithm
 * (FNV-1a, then murmur3's fmix32) is specified in docs/dataframes.md.
 */
import { type Frame, FrameError, describe, isMissing, type Column } from '../../shared/values/frame.ts';
import type { OpDefinition } from '../registry.ts';
import { asFrame, columnName, frameOp, integer, sameKind, type Scalar } from './args.ts';

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
      if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00)
        cp = 0x10000 + ((cp - 0xd800) << 10) + (s.charCodeAt(++i) - 0xdc00);
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
  if (!Array.isArray(b) || b.length !== k - 1)
    throw new FrameError(
      `boundaries must be a sorted list of k - 1 = ${k - 1} values, got ${Array.isArray(b) ? `${b.length} values` : describe(b)}.`,
    );
  b.forEach((v, i) => {
    sameKind(c, v, `boundaries[${i}]`, false);
    if (i > 0 && v < b[i - 1])
      throw new FrameError(`boundaries must be sorted: boundaries[${i}] is less than boundaries[${i - 1}].`);
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

export const shuffleOps: OpDefinition[] = [
  frameOp(
    'frame.shuffle_group',
    ['f', 'column', 'k', 'boundaries?'],
    'splits a frame into exactly k frames by a hash of column (equal values, same part) or, with k - 1 sorted boundaries, by range.',
    ([f, col, k, b]) => {
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
    },
  ),
];
