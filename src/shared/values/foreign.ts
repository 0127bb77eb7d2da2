/**
 * A foreign value: an object of another language (a pickled Python function,
 * tuple or dtype) that weft stores and moves as bytes and never reads. Only an
 * executor of that language (docs/executors.md) opens it.
 *
 * Encodings:
 * - MessagePack: extension type 0x50 (FOREIGN_EXTENSION_TYPE) whose payload is
 *   the MessagePack array [lang, name, data]: `lang` the language ("python"),
 *   `name` what it is, for people (a type name, or a callable's qualified
 *   name), `data` (bin) its serialization in that language (a pickle).
 * - JSON, in a request: {"$foreign": {"lang", "name", "data": base64}}; in a
 *   response the bytes are not shown, only their count:
 *   {"$foreign": {"lang", "name", "bytes"}}.
 */
import { pack, unpack } from 'msgpackr';
import { type Bytes, fromBase64 } from '../bytes.ts';
import { PayloadReader } from './payload.ts';

export const FOREIGN_EXTENSION_TYPE = 0x50;

/** Language names: what executors report as their `lang` and what pools default to. */
export const LANGUAGE_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
/** Longest `name` kept: it is for people, in errors and responses. */
const MAX_NAME = 512;

export class Foreign {
  constructor(
    readonly lang: string,
    readonly name: string,
    readonly data: Uint8Array,
  ) {}

  /** What a JSON response shows: what it is and how big, never the bytes. */
  toJSON(): { $foreign: { lang: string; name: string; bytes: number } } {
    return { $foreign: { lang: this.lang, name: this.name, bytes: this.data.byteLength } };
  }
}

export class ForeignFormatError extends Error {
  override readonly name = 'ForeignFormatError';
}

export function foreignPack(value: Foreign): Bytes {
  return pack([value.lang, value.name, value.data]) as Bytes;
}

export function foreignUnpack(payload: Uint8Array): Foreign {
  // [lang, name, bin] as the encoders write it is read in place (payload.ts says why); other forms by msgpackr.
  const r = new PayloadReader(payload);
  if (r.arrayHeader() === 3) {
    const lang = r.str();
    const name = lang === undefined ? undefined : r.str();
    const data = name === undefined ? undefined : r.bin();
    if (data !== undefined && r.done) return checkedForeign(lang, name, data);
  }
  const fields = unpack(payload) as unknown;
  if (!Array.isArray(fields) || fields.length !== 3) {
    throw new ForeignFormatError('A foreign value (extension 0x50) must hold [lang, name, data].');
  }
  return checkedForeign(fields[0], fields[1], fields[2]);
}

/**
 * A foreign value from its parts, checked: `lang` a language name, `name` a
 * string, `data` bytes (or base64 text, as JSON carries them).
 */
export function checkedForeign(lang: unknown, name: unknown, data: unknown): Foreign {
  if (typeof lang !== 'string' || !LANGUAGE_NAME.test(lang)) {
    throw new ForeignFormatError(
      `"lang" must be a language name such as "python" (lowercase letters, digits, "_" or "-"), got ${JSON.stringify(lang)}`,
    );
  }
  if (typeof name !== 'string') throw new ForeignFormatError(`"name" must be a string, got ${typeof name}`);
  let bytes: Uint8Array;
  if (data instanceof Uint8Array) bytes = data;
  else if (typeof data === 'string' && BASE64.test(data)) bytes = fromBase64(data);
  else throw new ForeignFormatError('"data" must be the value\'s serialization as bytes (base64 text in JSON)');
  return new Foreign(lang, name.slice(0, MAX_NAME), bytes);
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
