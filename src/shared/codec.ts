/**
 * How values are stored: MessagePack, with typed arrays kept binary (a
 * Float64Array comes back a Float64Array) so numeric data never goes through JSON.
 * Array chunks and dataframe partitions are MessagePack extensions whose
 * payload is itself plain MessagePack, so any MessagePack library can read
 * them (docs/arrays.md, docs/dataframes.md). Shared by the service and the
 * TypeScript SDK; the service's size limit and JSON answers are in src/store/values.ts.
 */
import { addExtension, Packr } from 'msgpackr';
import type { Bytes } from './bytes.ts';
import { Foreign, FOREIGN_EXTENSION_TYPE, foreignPack, foreignUnpack } from './values/foreign.ts';
import { Frame, FRAME_EXTENSION_TYPE, framePack, frameUnpack } from './values/frame.ts';
import { NDArray, NDARRAY_EXTENSION_TYPE, ndarrayPack, ndarrayUnpack, ndarrayValue } from './values/ndarray.ts';

// Registered once, for every Packr (msgpackr's extensions are global), before anything is encoded.
addExtension({ Class: NDArray, type: NDARRAY_EXTENSION_TYPE, pack: ndarrayPack, unpack: ndarrayUnpack });
addExtension({ Class: Frame, type: FRAME_EXTENSION_TYPE, pack: framePack, unpack: frameUnpack });
addExtension({ Class: Foreign, type: FOREIGN_EXTENSION_TYPE, pack: foreignPack, unpack: foreignUnpack });

// int64AsType 'auto': an integer past 2^53 (a Python int, a numpy int64) reads as a bigint and is written back
// unchanged, instead of becoming a float that loses its last digits.
// (msgpackr's type declarations lack 'auto', which its unpacker implements.)
const INT64_AUTO = { int64AsType: 'auto' as 'bigint' };
const packr = new Packr({ useRecords: false, moreTypes: true, mapsAsObjects: true, ...INT64_AUTO });
/** Reads maps as Maps: see `decodeValue`. */
const mapPackr = new Packr({ useRecords: false, moreTypes: true, mapsAsObjects: false, ...INT64_AUTO });
/** What msgpackr names a map's "__proto__" key when it reads the map as an object. */
const RENAMED_PROTO = '__proto_';

export function encodeValue(value: unknown): Bytes {
  // An array chunk, the bulk of what is stored, is written in one piece of exactly its size.
  if (value instanceof NDArray) return ndarrayValue(value);
  return packr.pack(value === undefined ? null : value) as Bytes;
}

/**
 * msgpackr renames a field "__proto__" to "__proto_" when it reads a map as
 * an object (its guard against prototype pollution), so a value holding such
 * a field would come back changed. A value with a "__proto_" field anywhere
 * is read again as Maps and rebuilt with defineProperty, where "__proto__" is
 * an ordinary field (a genuine "__proto_" survives that too). The check walks
 * the decoded objects and arrays, not the bytes: an array chunk of megabytes
 * is one object to look at.
 */
export function decodeValue(bytes: Uint8Array, mayHoldProto = true): unknown {
  const value = packr.unpack(bytes);
  // Bytes known to hold no "__proto__" anywhere had no key renamed: the walk is skipped (see decodeRequestBody).
  if (!mayHoldProto || !hasRenamedProto(value)) return value;
  return mapsToObjects(mapPackr.unpack(bytes));
}

/**
 * Reads the MessagePack values that follow one another in `bytes` from
 * `start`, each as decodeValue reads one (without its walk: the caller knows
 * the bytes hold no "__proto__"), handing each to `each` with the index just
 * past it, until `each` returns false or the bytes end.
 */
export function decodeEach(bytes: Uint8Array, start: number, each: (value: unknown, end: number) => boolean): void {
  packr.unpackMultiple(bytes.subarray(start), (value: unknown, _from?: number, end?: number) =>
    each(value, start + end!),
  );
}

function hasRenamedProto(value: unknown): boolean {
  const stack = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) if (typeof v[i] === 'object') stack.push(v[i]);
      continue;
    }
    // Typed arrays, NDArrays, frames, dates: not maps msgpackr read as objects.
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) continue;
    for (const key in v) {
      if (key === RENAMED_PROTO) return true;
      const field = (v as Record<string, unknown>)[key];
      if (typeof field === 'object') stack.push(field);
    }
  }
  return false;
}

function mapsToObjects(value: unknown): unknown {
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value)
      Object.defineProperty(out, String(k), {
        value: mapsToObjects(v),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    return out;
  }
  if (Array.isArray(value)) for (let i = 0; i < value.length; i++) value[i] = mapsToObjects(value[i]);
  return value;
}
