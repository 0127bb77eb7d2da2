/**
 * The frame.* ops that make a frame from plain JSON (from_records, a list of
 * row objects; from_columns, an object of column arrays) and that read one
 * back or describe it (to_records, len, columns).
 */
import { Frame, FrameError, columnFromValues, describe } from '../../shared/values/frame.ts';
import type { OpDefinition } from '../registry.ts';
import { asFrame, frameOp } from './args.ts';

export const buildOps: OpDefinition[] = [
  frameOp(
    'frame.from_records',
    ['rows'],
    'a frame from a list of row objects {column: value}; numbers (null = missing) give a float64 column, strings a string column.',
    ([rows]) => {
      if (!Array.isArray(rows))
        throw new FrameError(`rows must be an array of objects {column: value}, got ${describe(rows)}.`);
      const names: string[] = [];
      const seen = new Set<string>();
      rows.forEach((r, i) => {
        if (typeof r !== 'object' || r === null || Array.isArray(r) || ArrayBuffer.isView(r))
          throw new FrameError(`rows[${i}] is ${describe(r)}; each row is an object {column: value}.`);
        for (const k of Object.keys(r)) {
          if (seen.has(k)) continue;
          seen.add(k);
          names.push(k);
        }
      });
      return new Frame(
        names.map(
          (n) =>
            [
              n,
              columnFromValues(
                rows.map((r) => (r as Record<string, unknown>)[n] ?? null),
                `column ${JSON.stringify(n)}`,
              ),
            ] as const,
        ),
        rows.length,
      );
    },
  ),
  frameOp(
    'frame.from_columns',
    ['columns'],
    'a frame from {column: values}; values are a typed array, numbers (null = missing) or strings, all the same length.',
    ([cols]) => {
      if (typeof cols !== 'object' || cols === null || Array.isArray(cols) || cols instanceof Frame)
        throw new FrameError(`columns must be an object mapping column names to arrays, got ${describe(cols)}.`);
      return new Frame(
        Object.entries(cols).map(([n, v]) => [n, columnFromValues(v, `columns[${JSON.stringify(n)}]`)] as const),
      );
    },
  ),
  frameOp(
    'frame.to_records',
    ['f'],
    'the rows of a frame as objects {column: value}; missing values are null.',
    ([f]) => asFrame(f, 'f').toRecords(),
  ),
  frameOp('frame.len', ['f'], 'the number of rows of a frame.', ([f]) => asFrame(f, 'f').length),
  frameOp('frame.columns', ['f'], 'the column names of a frame, in order.', ([f]) => asFrame(f, 'f').names),
];
