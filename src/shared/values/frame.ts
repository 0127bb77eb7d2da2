/**
 * Frame: one dataframe partition as a columnar value. Columns are named, in
 * order, and all the same length; a numeric column is a typed array (missing
 * = NaN), a string column an array of strings (missing = null).
 *
 * Three forms:
 * - in memory: `new Frame([["age", Float64Array.of(31, 42)], ["name", ["a", "b"]]])`
 * - stored (MessagePack extension FRAME_EXTENSION_TYPE). Two ways to register
 *   it with msgpackr:
 *   - `pack: framePack, unpack: frameUnpack` (recommended): a standard ext
 *     whose payload is plain MessagePack `{v: 1, n, names, cols}`, a numeric
 *     column being `{dtype, data}` with `data` a bin of its little-endian
 *     bytes, so any MessagePack library reads it (e.g. Python with numpy).
 *   - `write: frameToWire, read: frameFromWire`: msgpackr writes a fixext 1
 *     marker followed by the same map as a separate value (numeric columns as
 *     msgpackr's typed-array ext 0x74): only msgpackr reads that back as one value.
 *   Either way numeric columns stay binary blocks, never per-row values.
 * - JSON: `{"$frame": {"columns": {"age": [31, 42], "name": ["a", "b"]}}}`
 *   (toJSON; read back with frameFromJSON).
 *
 * Nothing here mutates a Frame: every method returns a new one (columns not
 * touched are shared).
 */

import { Packr } from 'msgpackr';
import { type Bytes, LITTLE_ENDIAN } from '../bytes.ts';

export type NumericColumn =
  | Float64Array
  | Float32Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint32Array
  | Uint16Array
  | Uint8Array
  | Uint8ClampedArray;
export type StringColumn = (string | null)[];
export type Column = NumericColumn | StringColumn;

/**
 * MessagePack extension type of a Frame. Not 0x42: msgpackr (moreTypes) already
 * writes BigInts wider than 64 bits as extension 0x42, and registering a class
 * there replaces that decoder.
 */
export const FRAME_EXTENSION_TYPE = 0x46;

/** A malformed frame or a bad column reference; ops turn it into an OpArgumentError. */
export class FrameError extends Error {
  override readonly name = 'FrameError';
}

const NUMERIC_TYPES = [
  Float64Array,
  Float32Array,
  Int32Array,
  Int16Array,
  Int8Array,
  Uint32Array,
  Uint16Array,
  Uint8Array,
  Uint8ClampedArray,
];

export function isNumericColumn(c: unknown): c is NumericColumn {
  return NUMERIC_TYPES.some((T) => c instanceof T);
}

export function isStringColumn(c: unknown): c is StringColumn {
  return Array.isArray(c);
}

export class Frame {
  readonly length: number;
  private readonly cols: Map<string, Column>;

  /** `length` is needed only for a frame without columns (default 0). */
  constructor(columns: Iterable<readonly [string, Column]>, length?: number) {
    this.cols = new Map();
    let n = length;
    for (const [name, col] of columns) {
      if (typeof name !== 'string') throw new FrameError(`A column name must be a string, got ${describe(name)}.`);
      if (this.cols.has(name)) throw new FrameError(`Column ${JSON.stringify(name)} is given twice.`);
      if (!isNumericColumn(col) && !isStringColumn(col))
        throw new FrameError(
          `Column ${JSON.stringify(name)} is ${describe(col)}; a column is a numeric typed array or an array of strings.`,
        );
      if (n === undefined) n = col.length;
      else if (col.length !== n)
        throw new FrameError(
          `Column ${JSON.stringify(name)} has ${col.length} rows, the others ${n}: all columns must be the same length.`,
        );
      this.cols.set(name, col);
    }
    this.length = n ?? 0;
  }

  static fromObject(columns: Record<string, Column>): Frame {
    return new Frame(Object.entries(columns));
  }

  get names(): string[] {
    return [...this.cols.keys()];
  }

  has(name: string): boolean {
    return this.cols.has(name);
  }

  column(name: string): Column {
    const c = this.cols.get(name);
    if (c === undefined)
      throw new FrameError(`No column ${JSON.stringify(name)}; the columns are ${listNames(this.names)}.`);
    return c;
  }

  numeric(name: string): NumericColumn {
    const c = this.column(name);
    if (!isNumericColumn(c))
      throw new FrameError(`Column ${JSON.stringify(name)} holds strings; a number column is needed here.`);
    return c;
  }

  entries(): [string, Column][] {
    return [...this.cols.entries()];
  }

  /** A frame with `name` set to `col` (replaced in place, or appended). */
  with(name: string, col: Column): Frame {
    const out = new Map(this.cols);
    out.set(name, col);
    return new Frame(out, this.length);
  }

  select(names: string[]): Frame {
    return new Frame(
      names.map((n) => [n, this.column(n)] as const),
      this.length,
    );
  }

  /** The rows at `indices`, in that order (an index may repeat). */
  take(indices: ArrayLike<number>): Frame {
    return new Frame(
      this.entries().map(([n, c]) => [n, takeColumn(c, indices)] as const),
      indices.length,
    );
  }

  slice(start: number, end: number): Frame {
    return new Frame(
      this.entries().map(([n, c]) => [n, c.slice(start, end)] as const),
      Math.max(0, Math.min(end, this.length) - start),
    );
  }

  /**
   * Rows of all frames, in order. Every frame must have the same column names
   * (in any order; the first frame's order is kept). A column keeps its type
   * when all frames agree, else numbers become Float64Array.
   */
  static concat(frames: Frame[]): Frame {
    if (frames.length === 0) throw new FrameError('Nothing to concatenate: give at least one frame.');
    const names = frames[0].names;
    frames.forEach((f, i) => {
      const extra = f.names.filter((n) => !frames[0].has(n));
      const missing = names.filter((n) => !f.has(n));
      if (extra.length || missing.length) {
        throw new FrameError(
          `Frame ${i} has other columns than frame 0 (${missing.length ? `missing ${listNames(missing)}` : ''}${missing.length && extra.length ? ', ' : ''}${extra.length ? `extra ${listNames(extra)}` : ''}); frames must have the same columns to be concatenated.`,
        );
      }
    });
    const total = frames.reduce((s, f) => s + f.length, 0);
    return new Frame(
      names.map(
        (name) =>
          [
            name,
            concatColumns(
              name,
              frames.map((f) => f.column(name)),
              total,
            ),
          ] as const,
      ),
      total,
    );
  }

  /** One object per row; NaN becomes null. */
  toRecords(): Record<string, number | string | null>[] {
    const entries = this.entries();
    const rows: Record<string, number | string | null>[] = new Array(this.length);
    for (let i = 0; i < this.length; i++) {
      const row: Record<string, number | string | null> = {};
      for (const [name, c] of entries) {
        const v = c[i];
        setField(row, name, typeof v === 'number' && Number.isNaN(v) ? null : v);
      }
      rows[i] = row;
    }
    return rows;
  }

  /** `{"$frame": {"columns": {name: [values]}}}`; NaN becomes null. */
  toJSON(): { $frame: { columns: Record<string, (number | string | null)[]> } } {
    const columns: Record<string, (number | string | null)[]> = {};
    for (const [name, c] of this.cols) {
      setField(columns, name, isNumericColumn(c) ? Array.from(c, (v) => (Number.isNaN(v) ? null : v)) : c.slice());
    }
    return { $frame: { columns } };
  }
}

// ---------------------------------------------------------------- wire form

export interface FrameWire {
  v: 1;
  n: number;
  names: string[];
  cols: unknown[];
}

/** The value `write` gives msgpackr: typed arrays are kept as they are (binary with `moreTypes`). */
export function frameToWire(f: Frame): FrameWire {
  const entries = f.entries();
  return { v: 1, n: f.length, names: entries.map(([n]) => n), cols: entries.map(([, c]) => c) };
}

/**
 * A frame from its wire map. A column may be a typed array, `{dtype, data}`
 * (data: the elements' little-endian bytes), an array of strings and nulls, or
 * an array of numbers and nulls (read as float64).
 */
export function frameFromWire(w: unknown): Frame {
  const o = w as Partial<FrameWire> | null;
  if (typeof o !== 'object' || o === null || o.v !== 1)
    throw new FrameError(`Not a stored frame (version 1): got ${describe(w)}.`);
  if (
    !Array.isArray(o.names) ||
    !Array.isArray(o.cols) ||
    o.names.length !== o.cols.length ||
    !Number.isSafeInteger(o.n) ||
    o.n! < 0
  ) {
    throw new FrameError('A stored frame needs n (a row count), and names and cols of the same length.');
  }
  const cols = o.cols;
  return new Frame(
    o.names.map((name, i) => [name, wireColumn(cols[i], `Column ${JSON.stringify(name)}`)] as const),
    o.n,
  );
}

const DTYPES: [string, new (n: number) => NumericColumn][] = [
  ['float64', Float64Array],
  ['float32', Float32Array],
  ['int32', Int32Array],
  ['int16', Int16Array],
  ['int8', Int8Array],
  ['uint32', Uint32Array],
  ['uint16', Uint16Array],
  ['uint8', Uint8Array],
  ['uint8', Uint8ClampedArray],
];

/** A column as the Frame constructor takes it; anything unrecognised is passed on for the constructor to reject. */
function wireColumn(c: unknown, where: string): Column {
  // framePack writes number columns as {dtype, data}: an empty array is an empty string column.
  if (Array.isArray(c) && c.length === 0) return [];
  if (Array.isArray(c)) return columnFromValues(c, where);
  if (typeof c !== 'object' || c === null || ArrayBuffer.isView(c) || !('dtype' in c)) return c as Column;
  const { dtype, data } = c as { dtype: unknown; data: unknown };
  const T = DTYPES.find(([name]) => name === dtype)?.[1];
  if (!T)
    throw new FrameError(
      `${where} has dtype ${describe(dtype)}; use one of ${[...new Set(DTYPES.map(([n]) => n))].join(', ')}.`,
    );
  if (!(data instanceof Uint8Array))
    throw new FrameError(`${where}: data must be the elements' bytes (bin), got ${describe(data)}.`);
  const width = (T as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  if (data.byteLength % width !== 0)
    throw new FrameError(`${where}: ${data.byteLength} bytes is not a whole number of ${dtype} values.`);
  const out = new T(data.byteLength / width);
  const bytes = new Uint8Array(out.buffer);
  bytes.set(data); // a copy: aligned, and not a view into the message
  if (!LITTLE_ENDIAN && width > 1) for (let i = 0; i < bytes.length; i += width) bytes.subarray(i, i + width).reverse();
  return out;
}

/** Standard MessagePack only: no msgpackr-specific types in a frame's payload. */
const payloadPackr = new Packr({ useRecords: false, mapsAsObjects: true });

/** The extension's payload: plain MessagePack, numeric columns as `{dtype, data: bin}`. */
export function framePack(f: Frame): Bytes {
  const wire = frameToWire(f);
  wire.cols = wire.cols.map((c) => {
    if (!isNumericColumn(c)) return c;
    const dtype = DTYPES.find(([, T]) => c instanceof T)![0];
    let data = new Uint8Array(c.buffer, c.byteOffset, c.byteLength);
    if (!LITTLE_ENDIAN && c.BYTES_PER_ELEMENT > 1) {
      data = data.slice(); // a copy: the column itself is never changed
      for (let i = 0; i < data.length; i += c.BYTES_PER_ELEMENT) data.subarray(i, i + c.BYTES_PER_ELEMENT).reverse();
    }
    return { dtype, data };
  });
  return payloadPackr.pack(wire) as Bytes;
}

/** Reads framePack's payload back. */
export function frameUnpack(payload: Uint8Array): Frame {
  let wire: unknown;
  try {
    wire = payloadPackr.unpack(payload);
  } catch (e) {
    throw new FrameError(`A frame's MessagePack payload is not valid MessagePack: ${(e as Error).message}`);
  }
  return frameFromWire(wire);
}

// ---------------------------------------------------------------- JSON form

/** Whether a value looks like the JSON form (has a `$frame` field). */
export function isFrameJSON(v: unknown): v is { $frame: unknown } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.hasOwn(v, '$frame');
}

/** Parses `{"$frame": {"columns": {name: [values]}}}`; errors name the JSON path. */
export function frameFromJSON(v: unknown): Frame {
  if (!isFrameJSON(v))
    throw new FrameError(`A frame in JSON is {"$frame": {"columns": {name: [values]}}}, got ${describe(v)}.`);
  const keys = Object.keys(v);
  if (keys.length !== 1)
    throw new FrameError(
      `A frame in JSON has the single field "$frame"; remove ${listNames(keys.filter((k) => k !== '$frame'))}.`,
    );
  const body = v.$frame as { columns?: unknown } | null;
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new FrameError(`$frame must be an object {"columns": {...}}, got ${describe(body)}.`);
  const extra = Object.keys(body).filter((k) => k !== 'columns');
  if (extra.length)
    throw new FrameError(
      `$frame has unknown field${extra.length > 1 ? 's' : ''} ${listNames(extra)}; it holds only "columns".`,
    );
  const cols = body.columns;
  if (typeof cols !== 'object' || cols === null || Array.isArray(cols))
    throw new FrameError(`$frame.columns must be an object mapping column names to arrays, got ${describe(cols)}.`);
  return new Frame(
    Object.entries(cols).map(
      ([name, values]) => [name, columnFromValues(values, `$frame.columns[${JSON.stringify(name)}]`)] as const,
    ),
  );
}

/**
 * A column from plain values: numbers (null = missing) give a Float64Array,
 * strings (null = missing) a string column, all-null a Float64Array of NaN.
 * A numeric typed array is kept as it is.
 */
export function columnFromValues(values: unknown, where: string): Column {
  if (isNumericColumn(values)) return values;
  if (ArrayBuffer.isView(values))
    throw new FrameError(
      `${where} is a ${values.constructor.name}; use a Float64Array, Float32Array or (U)Int8/16/32Array.`,
    );
  if (!Array.isArray(values))
    throw new FrameError(`${where} must be an array of numbers or of strings, got ${describe(values)}.`);
  let kind: 'number' | 'string' | undefined;
  let holes = false;
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    if (x === null) continue;
    if (x === undefined) {
      holes = true;
      continue;
    }
    const t = typeof x;
    if (t !== 'number' && t !== 'string')
      throw new FrameError(`${where}[${i}] is ${describe(x)}; a frame holds numbers and strings (null for missing).`);
    if (kind === undefined) kind = t as 'number' | 'string';
    else if (t !== kind)
      throw new FrameError(
        `${where}[${i}] is ${describe(x)} but earlier values are ${kind}s; a column holds one type.`,
      );
  }
  if (kind === 'string') return (holes ? values.map((x) => (x === undefined ? null : x)) : values) as StringColumn;
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = typeof values[i] === 'number' ? values[i] : NaN;
  return out;
}

// ---------------------------------------------------------------- kernels

export function takeColumn(c: Column, indices: ArrayLike<number>): Column {
  const n = indices.length;
  if (isNumericColumn(c)) {
    const out = new (c.constructor as new (n: number) => NumericColumn)(n);
    for (let i = 0; i < n; i++) out[i] = c[indices[i]];
    return out;
  }
  const out: StringColumn = new Array(n);
  for (let i = 0; i < n; i++) out[i] = c[indices[i]];
  return out;
}

function concatColumns(name: string, parts: Column[], total: number): Column {
  // An empty part has no values to say what it holds (an empty string column
  // and an empty number column look alike once serialised): the others decide.
  const filled = parts.filter((p) => p.length > 0);
  if (filled.length > 0 && filled.length < parts.length) parts = filled;
  const numeric = parts.map(isNumericColumn);
  if (numeric.some((x) => x !== numeric[0]))
    throw new FrameError(`Column ${JSON.stringify(name)} holds numbers in some frames and strings in others.`);
  if (!numeric[0]) {
    const out: StringColumn = new Array(total);
    let at = 0;
    for (const p of parts as StringColumn[]) for (let i = 0; i < p.length; i++) out[at++] = p[i];
    return out;
  }
  const ctor = parts[0].constructor;
  const T = (parts.every((p) => p.constructor === ctor) ? ctor : Float64Array) as new (n: number) => NumericColumn;
  const out = new T(total);
  let at = 0;
  for (const p of parts as NumericColumn[]) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** obj[key] = value, also for a column named "__proto__". */
function setField<T>(obj: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__')
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

/** Missing value: NaN in a numeric column, null in a string column. */
export function isMissing(v: number | string | null): boolean {
  return v === null || (typeof v === 'number' && Number.isNaN(v));
}

export function listNames(names: string[]): string {
  if (names.length === 0) return '(none)';
  const shown = names
    .slice(0, 20)
    .map((n) => JSON.stringify(n))
    .join(', ');
  return names.length > 20 ? `${shown}, ... (${names.length} in all)` : shown;
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  if (v instanceof Frame) return 'a frame';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 30 ? v.slice(0, 30) + '...' : v)}`;
  return `${typeof v} ${String(v)}`;
}
