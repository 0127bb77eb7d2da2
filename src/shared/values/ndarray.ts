/**
 * NDArray: one chunk of an n-dimensional numeric array, what a numpy ndarray is
 * to one block of a dask.array. The elements live in one typed array in
 * row-major order, so a chunk is stored and moved as binary and never becomes
 * one object per element.
 *
 * Encodings (docs/arrays.md):
 * - MessagePack: extension type 0x41 (NDARRAY_EXTENSION_TYPE) whose payload is
 *   the MessagePack array [dtype, shape, data], `data` being the elements'
 *   bytes, never a list of numbers. Two ways to register it with msgpackr:
 *   - `pack: ndarrayPack, unpack: ndarrayUnpack` (recommended) writes a
 *     standard ext with `data` as `bin` (raw little-endian bytes), so any
 *     MessagePack library reads the value, e.g. a Python client with numpy.
 *   - `write: ndarrayToWire, read: ndarrayFromWire` saves one copy, but msgpackr
 *     then writes a fixext 1 marker followed by the array as a separate value
 *     (and `data` as its own typed-array ext 0x74): only msgpackr reads that
 *     back as one value.
 * - JSON: {"$ndarray": {"dtype": "float64", "shape": [2, 3], "data": [numbers, row-major]}}.
 *
 * Values are immutable by convention: no op writes into an input's data, which
 * is what lets reshape share a buffer instead of copying it.
 */
import { PayloadReader } from './payload.ts';
import { allocBytes, type Bytes, isNodeBuffer, LITTLE_ENDIAN, writeUint16BE, writeUint32BE } from '../bytes.ts';
import { Packr } from 'msgpackr';

export const DTYPES = ['float64', 'float32', 'int32', 'int16', 'int8', 'uint32', 'uint16', 'uint8'] as const;
export type DType = (typeof DTYPES)[number];

export type NumericArray =
  | Float64Array
  | Float32Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint32Array
  | Uint16Array
  | Uint8Array;

type NumericArrayConstructor = {
  new (length: number): NumericArray;
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): NumericArray;
  readonly BYTES_PER_ELEMENT: number;
};

interface DTypeInfo {
  ctor: NumericArrayConstructor;
  integer: boolean;
  /** Range of an integer dtype (the JSON form is checked against it). */
  min: number;
  max: number;
}

const INFO: Record<DType, DTypeInfo> = {
  float64: { ctor: Float64Array, integer: false, min: -Infinity, max: Infinity },
  float32: { ctor: Float32Array, integer: false, min: -Infinity, max: Infinity },
  int32: { ctor: Int32Array, integer: true, min: -(2 ** 31), max: 2 ** 31 - 1 },
  int16: { ctor: Int16Array, integer: true, min: -(2 ** 15), max: 2 ** 15 - 1 },
  int8: { ctor: Int8Array, integer: true, min: -128, max: 127 },
  uint32: { ctor: Uint32Array, integer: true, min: 0, max: 2 ** 32 - 1 },
  uint16: { ctor: Uint16Array, integer: true, min: 0, max: 2 ** 16 - 1 },
  uint8: { ctor: Uint8Array, integer: true, min: 0, max: 255 },
};

export const NDARRAY_EXTENSION_TYPE = 0x41;

// Typed arrays are in the platform's byte order; the wire is little-endian (LITTLE_ENDIAN: bytes.ts).

/** Thrown for a malformed encoded array; ops turn it into an OpArgumentError naming the op. */
export class NDArrayFormatError extends Error {
  override readonly name = 'NDArrayFormatError';
}

export function isDType(v: unknown): v is DType {
  return typeof v === 'string' && Object.hasOwn(INFO, v);
}

export function isIntegerDType(dtype: DType): boolean {
  return INFO[dtype].integer;
}

export function dtypeRange(dtype: DType): { min: number; max: number } {
  return { min: INFO[dtype].min, max: INFO[dtype].max };
}

export function unknownDTypeMessage(v: unknown): string {
  return `unknown dtype ${describe(v)}: use one of ${DTYPES.join(', ')}.`;
}

/** The dtype a typed array's elements have, or null for a typed array no dtype matches (BigInt64Array, DataView). */
export function dtypeOfTypedArray(x: unknown): DType | null {
  for (const d of DTYPES) if (x instanceof INFO[d].ctor) return d;
  return null;
}

/** A zero-filled typed array of the dtype. */
export function allocate(dtype: DType, length: number): NumericArray {
  return new INFO[dtype].ctor(length);
}

/** The number of elements of a shape (1 for the 0-d shape []). */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides in elements: the step in `data` for one step along each axis. */
export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

export class NDArray {
  readonly dtype: DType;
  readonly shape: number[];
  readonly data: NumericArray;

  constructor(dtype: DType, shape: readonly number[], data: NumericArray) {
    if (!isDType(dtype)) throw new NDArrayFormatError(unknownDTypeMessage(dtype));
    checkShape(shape, 'shape');
    if (!(data instanceof INFO[dtype].ctor))
      throw new NDArrayFormatError(
        `data of a ${dtype} array must be a ${INFO[dtype].ctor.name}, got ${describe(data)}.`,
      );
    const size = sizeOf(shape);
    if (data.length !== size)
      throw new NDArrayFormatError(
        `data has ${data.length} elements but shape ${JSON.stringify(shape)} needs ${size}.`,
      );
    this.dtype = dtype;
    this.shape = [...shape];
    // A Buffer is a Uint8Array whose toJSON and slice behave differently: keep a plain view.
    this.data = isNodeBuffer(data) ? new Uint8Array(data.buffer, data.byteOffset, data.length) : data;
  }

  get ndim(): number {
    return this.shape.length;
  }

  get size(): number {
    return this.data.length;
  }

  /** The documented JSON form. Non-finite numbers become null there, as JSON.stringify does with any number. */
  toJSON(): { $ndarray: { dtype: DType; shape: number[]; data: number[] } } {
    return { $ndarray: { dtype: this.dtype, shape: [...this.shape], data: Array.from(this.data) } };
  }
}

/** The payload msgpackr packs for the extension: the typed array stays binary. */
export function ndarrayToWire(a: NDArray): [DType, number[], NumericArray] {
  return [a.dtype, a.shape, a.data];
}

/** Plain MessagePack for ndarrayPack's payload: no msgpackr-only types in it, so any client reads it. */
const payloadPackr = new Packr({ useRecords: false });

/**
 * The extension's payload as standard MessagePack: [dtype, shape, bin of the
 * little-endian bytes], in a buffer of exactly its size. msgpackr would pack
 * the data into its shared 8 MiB scratch buffer and hand back a slice of it,
 * so a 2 MiB chunk would keep 8 MiB alive and cost a copy more.
 */
export function ndarrayPack(a: NDArray): Bytes {
  return ndarrayEncode(a, false);
}

/**
 * The whole stored value of an array (what encodeValue gives for it): the
 * extension header, then the payload, written straight into one buffer of
 * exactly its size with one copy of the data.
 *
 * From ALIGN_FROM bytes of data on, the header is padded so the data starts
 * at a multiple of 8 bytes from the value's start: a reader whose value sits
 * at an aligned address (a spill file read, a large Redis reply) then views
 * the elements where they are instead of copying them (fromLittleEndianBytes).
 * The padding uses longer MessagePack forms of the same header fields (str8
 * for the dtype, array16 and array32 headers), which every reader accepts.
 * Smaller arrays are exactly msgpackr's bytes (a test compares them).
 */
export function ndarrayValue(a: NDArray): Bytes {
  return ndarrayEncode(a, true);
}

/** Arrays with at least this many bytes of data are laid out for zero-copy reads. */
export const ALIGN_FROM = 4096;

/** Extension header bytes for a payload of `n` bytes, as msgpackr writes them. */
function extHeaderLength(n: number): number {
  return [1, 2, 4, 8, 16].includes(n) ? 2 : n < 0x100 ? 3 : n < 0x10000 ? 4 : 6;
}

function binHeaderLength(n: number): number {
  return n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
}

/** First bytes of MessagePack's ext 8/16/32 and bin 8/16/32 forms. */
const EXT_FORMS = [0xc7, 0xc8, 0xc9] as const;
const BIN_FORMS = [0xc4, 0xc5, 0xc6] as const;

/** Writes the first byte of the 8-, 16- or 32-bit form that fits `n`, then `n`; returns the offset after it. */
function writeLength(out: Uint8Array, at: number, forms: readonly [number, number, number], n: number): number {
  if (n < 0x100) {
    out[at] = forms[0];
    out[at + 1] = n;
    return at + 2;
  }
  if (n < 0x10000) {
    out[at] = forms[1];
    return writeUint16BE(out, n, at + 1);
  }
  out[at] = forms[2];
  return writeUint32BE(out, n, at + 1);
}

function ndarrayEncode(a: NDArray, asValue: boolean): Bytes {
  const { data } = a;
  const n = data.byteLength;
  // [dtype, shape] as msgpackr writes them: 0x92, the dtype as a fixstr, then the shape (its header, then integers).
  const head = payloadPackr.pack([a.dtype, a.shape]);
  const dtypeEnd = 2 + a.dtype.length;
  const shapeHeader = a.shape.length < 16 ? 1 : 3;
  // Padding (bytes added to the header) by the longer forms: +1 dtype str8, +2 outer array16, +4 shape array32 (from a fixarray).
  let pad = 0;
  if (asValue && n >= ALIGN_FROM) {
    for (let tries = 0; tries < 2; tries++) {
      const payload = head.length + pad + binHeaderLength(n) + n;
      const misaligned = (extHeaderLength(payload) + head.length + binHeaderLength(n)) % 8;
      pad = (8 - misaligned) % 8;
      if (shapeHeader !== 1 && pad & 4) pad = 0; // a shape of 16+ dimensions: not worth another form
    }
  }
  const payloadLength = head.length + pad + binHeaderLength(n) + n;
  const out = allocBytes((asValue ? extHeaderLength(payloadLength) : 0) + payloadLength);
  let at = 0;
  if (asValue) {
    const fixed = [1, 2, 4, 8, 16].indexOf(payloadLength);
    if (fixed >= 0) out[at++] = 0xd4 + fixed;
    else at = writeLength(out, at, EXT_FORMS, payloadLength);
    out[at++] = NDARRAY_EXTENSION_TYPE;
  }
  // A fixarray of 3 (not 2), or array16.
  if (pad & 2) {
    out[at++] = 0xdc;
    at = writeUint16BE(out, 3, at);
  } else out[at++] = 0x93;
  // The dtype: fixstr, or str8.
  if (pad & 1) {
    out[at++] = 0xd9;
    out[at++] = a.dtype.length;
    for (let i = 0; i < a.dtype.length; i++) out[at++] = a.dtype.charCodeAt(i);
  } else {
    out.set(head.subarray(1, dtypeEnd), at);
    at += dtypeEnd - 1;
  }
  // The shape: its header as msgpackr wrote it, or array32; then its integers.
  if (pad & 4) {
    out[at++] = 0xdd;
    at = writeUint32BE(out, a.shape.length, at);
  } else {
    out.set(head.subarray(dtypeEnd, dtypeEnd + shapeHeader), at);
    at += shapeHeader;
  }
  out.set(head.subarray(dtypeEnd + shapeHeader), at);
  at += head.length - dtypeEnd - shapeHeader;
  at = writeLength(out, at, BIN_FORMS, n);
  out.set(new Uint8Array(data.buffer, data.byteOffset, n), at);
  const width = data.BYTES_PER_ELEMENT;
  if (!LITTLE_ENDIAN && width > 1) for (let i = at; i < at + n; i += width) out.subarray(i, i + width).reverse();
  return out;
}

/** Reads ndarrayPack's payload back (msgpackr allows this nested unpack). */
export function ndarrayUnpack(payload: Uint8Array): NDArray {
  // [dtype, shape, bin] as the encoders write it is read in place (payload.ts says why); other forms by msgpackr.
  const fast = simpleWire(payload);
  if (fast) return ndarrayFromWire(fast);
  let wire: unknown;
  try {
    wire = payloadPackr.unpack(payload);
  } catch (e) {
    throw new NDArrayFormatError(`an NDArray's MessagePack payload is not valid MessagePack: ${(e as Error).message}`);
  }
  return ndarrayFromWire(wire);
}

function simpleWire(payload: Uint8Array): [string, number[], Uint8Array] | undefined {
  const r = new PayloadReader(payload);
  if (r.arrayHeader() !== 3) return undefined;
  const dtype = r.str();
  if (dtype === undefined) return undefined;
  const ndim = r.arrayHeader();
  if (ndim < 0) return undefined;
  const shape: number[] = [];
  for (let i = 0; i < ndim; i++) {
    const d = r.count();
    if (d === undefined) return undefined;
    shape.push(d);
  }
  const data = r.bin();
  return data !== undefined && r.done ? [dtype, shape, data] : undefined;
}

/** Reads the extension payload back: `data` is the typed array of the dtype, or its raw little-endian bytes. */
export function ndarrayFromWire(w: unknown): NDArray {
  if (!Array.isArray(w) || w.length !== 3)
    throw new NDArrayFormatError(`an NDArray on the wire is [dtype, shape, data], got ${describe(w)}.`);
  const [dtype, shape, data] = w as unknown[];
  if (!isDType(dtype)) throw new NDArrayFormatError(unknownDTypeMessage(dtype));
  checkShape(shape, 'shape');
  const ctor = INFO[dtype].ctor;
  if (data instanceof ctor) return new NDArray(dtype, shape, data);
  if (data instanceof Uint8Array) return new NDArray(dtype, shape, fromLittleEndianBytes(dtype, data, sizeOf(shape)));
  throw new NDArrayFormatError(
    `data of a ${dtype} array on the wire must be a ${ctor.name} or its bytes, got ${describe(data)}.`,
  );
}

/** True for anything shaped like the JSON form (checked in full by fromJSONForm). */
export function isNDArrayJSON(v: unknown): v is { $ndarray: unknown } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.hasOwn(v, '$ndarray');
}

/**
 * Parses {"$ndarray": {dtype, shape, data}}. Strict, because it is an encoding
 * and not a cast: an integer dtype's data must be integers in its range. null
 * (how JSON writes NaN and infinities) reads as NaN in a float dtype.
 */
export function fromJSONForm(obj: unknown): NDArray {
  const form = 'an NDArray in JSON is {"$ndarray": {"dtype": ..., "shape": [...], "data": [...]}}';
  if (!isNDArrayJSON(obj) || Object.keys(obj).length !== 1)
    throw new NDArrayFormatError(`${form}, got ${describe(obj)}.`);
  const body = obj.$ndarray;
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new NDArrayFormatError(`${form}; "$ndarray" holds ${describe(body)}.`);
  const { dtype, shape, data } = body as Record<string, unknown>;
  const extra = Object.keys(body).filter((k) => k !== 'dtype' && k !== 'shape' && k !== 'data');
  if (extra.length > 0) throw new NDArrayFormatError(`${form}; unexpected field ${JSON.stringify(extra[0])}.`);
  if (!isDType(dtype)) throw new NDArrayFormatError(unknownDTypeMessage(dtype));
  checkShape(shape, '"shape"');
  if (!Array.isArray(data))
    throw new NDArrayFormatError(`"data" must be an array of numbers (row-major), got ${describe(data)}.`);
  const size = sizeOf(shape);
  if (data.length !== size)
    throw new NDArrayFormatError(`"data" has ${data.length} numbers but shape ${JSON.stringify(shape)} needs ${size}.`);
  const { integer, min, max } = INFO[dtype];
  const out = allocate(dtype, size);
  for (let i = 0; i < size; i++) {
    const x = data[i];
    if (x === null && !integer) {
      out[i] = NaN;
      continue;
    }
    if (typeof x !== 'number') throw new NDArrayFormatError(`"data"[${i}] is ${describe(x)}, not a number.`);
    if (integer && (!Number.isInteger(x) || x < min || x > max))
      throw new NDArrayFormatError(`"data"[${i}] is ${x}, not a ${dtype} (integers ${min} to ${max}).`);
    out[i] = x;
  }
  return new NDArray(dtype, shape, out);
}

function checkShape(shape: unknown, what: string): asserts shape is number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new NDArrayFormatError(`${what} must be an array of non-negative integers, got ${describe(shape)}.`);
  }
}

function fromLittleEndianBytes(dtype: DType, bytes: Uint8Array, size: number): NumericArray {
  const ctor = INFO[dtype].ctor;
  const width = ctor.BYTES_PER_ELEMENT;
  if (bytes.byteLength !== size * width)
    throw new NDArrayFormatError(
      `data of a ${dtype} array of ${size} elements must be ${size * width} bytes, got ${bytes.byteLength}.`,
    );
  // Where the bytes are aligned (see ndarrayValue), the elements are a view of them: the bytes a
  // task's input is decoded from belong to that one decoding. Otherwise they are copied, as typed arrays need alignment.
  if (LITTLE_ENDIAN && bytes.byteOffset % width === 0) return new ctor(bytes.buffer, bytes.byteOffset, size);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  const out = new ctor(copy.buffer);
  if (!LITTLE_ENDIAN && width > 1) for (let i = 0; i < copy.length; i += width) copy.subarray(i, i + width).reverse();
  return out;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v.length > 30 ? v.slice(0, 30) + '...' : v);
  if (Array.isArray(v)) {
    // Short lists of numbers or strings (a shape, a small wire array) read best as they are.
    const primitive = (x: unknown) => typeof x !== 'object' || x === null;
    const text = v.every((x) => primitive(x) || (Array.isArray(x) && x.every(primitive))) ? JSON.stringify(v) : '';
    return text && text.length <= 60 ? text : `an array of ${v.length}`;
  }
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}
