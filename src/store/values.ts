/**
 * What the service does with values beyond encoding them (src/shared/codec.ts,
 * which the SDK shares): the size limit of a stored value
 * (WEFT_MAX_VALUE_BYTES) and the JSON form of values in HTTP answers.
 */

/**
 * A value that encodes to more than the largest object the service stores
 * (WEFT_MAX_VALUE_BYTES): refused before it reaches Redis.
 */
export class ValueTooLargeError extends Error {
  override readonly name = 'ValueTooLargeError';
  readonly code = 'value_too_large';
  constructor(
    readonly bytes: number,
    readonly limit: number,
    what: string,
  ) {
    super(
      `${what} is ${bytes} bytes encoded; this service stores values of at most ${limit} bytes (WEFT_MAX_VALUE_BYTES). Split it into smaller values (chunks, partitions).`,
    );
  }
}

export function checkValueSize(encoded: { length: number }, limit: number, what: string): void {
  if (encoded.length > limit) throw new ValueTooLargeError(encoded.length, limit, what);
}

/**
 * JSON form of a stored value for HTTP responses: bytes become
 * {"$bytes": base64}; other typed arrays become arrays of numbers;
 * non-finite numbers become null, as JSON.stringify does.
 */
export function jsonReplacer(this: unknown, key: string, value: unknown): unknown {
  // A Buffer's toJSON has run before the replacer sees it: look at the holder's original value.
  const original = (this as Record<string, unknown>)[key];
  if (original instanceof Uint8Array)
    return { $bytes: Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString('base64') };
  if (ArrayBuffer.isView(value) && !(value instanceof DataView))
    return Array.from(value as unknown as ArrayLike<number>);
  if (typeof value === 'bigint') return Number(value);
  return value;
}
