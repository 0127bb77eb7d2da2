/**
 * What the bytes of a stored value mean. A value is MessagePack, which never
 * uses the byte 0xC1; a value that starts with it is therefore not the value
 * but a pointer to it, and one function, `storedForm`, says which. Every
 * reader of stored bytes (a start's task inputs, lineage, the API's reads,
 * the spiller) asks it instead of testing bytes by hand.
 *
 *   bytes                            form        where it comes from
 *   null                             missing     the object is gone (released, expired, deleted)
 *   0xC1                             stub        a `vals` field of a value on disk, or an input
 *                                                whose location is gone (lost)
 *   0xC1 file:offset:length          spilled     a start script's input that is on disk there
 *   0xC1 '@' field '@' hash key      reference   a start script's input over INLINE_MAX_BYTES,
 *                                                for the worker to read with HGET
 *   anything else                    value       the value itself
 *
 * The scripts write these forms (the store include of src/queue/scripts:
 * STUB, REFERENCE, readValue); a spill file name never starts with '@'.
 * One more use of the marker never reaches a reader: `0xC1 '=' w token ':' field`,
 * a big result written to its field ahead of completeTasks, exists only in
 * that script's arguments (src/queue/scripts/completeTasks.ts).
 */

/** The first byte of a value that is not the value: 0xC1, which MessagePack never uses. */
export const SPILL_STUB = 0xc1;

/** The second byte of an input passed by reference ('@'). */
const REFERENCE_MARK = 0x40;

export type StoredForm = 'missing' | 'stub' | 'spilled' | 'reference' | 'value';

/** What `bytes` are (see the table above). Allocates nothing: it runs for every input of every task. */
export function storedForm(bytes: Uint8Array | null): StoredForm {
  if (bytes === null) return 'missing';
  if (bytes.length === 0 || bytes[0] !== SPILL_STUB) return 'value';
  if (bytes.length === 1) return 'stub';
  return bytes[1] === REFERENCE_MARK ? 'reference' : 'spilled';
}

/** Where a spilled value is: a spill file (relative to SPILL_DIR), and the range of its bytes there. */
export interface SpillLocation {
  file: string;
  offset: number;
  length: number;
}

/** The location of a `spilled` form: 0xC1 followed by `file:offset:length`. */
export function parseLocation(stub: Uint8Array): SpillLocation {
  const text = Buffer.from(stub.buffer, stub.byteOffset + 1, stub.byteLength - 1).toString('utf8');
  const m = /^(.*):(\d+):(\d+)$/.exec(text);
  if (!m) throw new Error(`A spilled value's location is unreadable: ${text.slice(0, 80)}`);
  return { file: m[1], offset: Number(m[2]), length: Number(m[3]) };
}

/** The hash key and field of a `reference` form (0xC1 '@' field '@' hash key); null when it is malformed. */
export function parseInputReference(bytes: Uint8Array): { key: string; field: string } | null {
  if (storedForm(bytes) !== 'reference' || bytes.length < 4) return null;
  const text = Buffer.from(bytes.buffer, bytes.byteOffset + 2, bytes.byteLength - 2).toString('utf8');
  const at = text.indexOf('@');
  return at > 0 ? { field: text.slice(0, at), key: text.slice(at + 1) } : null;
}
