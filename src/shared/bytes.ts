/**
 * Bytes without Node's Buffer, so that src/shared runs in a browser (the SDK
 * package, clients/ts) as well as in Node. In Node, new buffers are still
 * Buffers (Buffer.allocUnsafe: no zero fill, and what Redis and the HTTP
 * server are given stays a Buffer); in a browser, Uint8Arrays.
 */

/**
 * What the encoders return: a Buffer where Node's types are loaded (the service, whose callers use Buffer's
 * methods, and it is one at run time there), a Uint8Array otherwise (the SDK's build, compiled without
 * Node's types; in a browser the value is a Uint8Array).
 */
export type Bytes = typeof globalThis extends { Buffer: { allocUnsafe(n: number): infer B } } ? B : Uint8Array;

interface NodeBuffer {
  allocUnsafe(n: number): Uint8Array;
  isBuffer(v: unknown): boolean;
  from(text: string, encoding: 'base64'): Uint8Array;
}
const NodeBuffer = (globalThis as { Buffer?: NodeBuffer }).Buffer;

/** `n` bytes, not zeroed in Node (every byte is to be written). */
export function allocBytes(n: number): Bytes {
  return (NodeBuffer ? NodeBuffer.allocUnsafe(n) : new Uint8Array(n)) as Bytes;
}

/** Whether `v` is a Node Buffer (never in a browser). */
export function isNodeBuffer(v: unknown): boolean {
  return NodeBuffer?.isBuffer(v) ?? false;
}

/** Writes `n` as 2 big-endian bytes at `at`; returns the offset after them. */
export function writeUint16BE(out: Uint8Array, n: number, at: number): number {
  out[at] = n >>> 8;
  out[at + 1] = n & 0xff;
  return at + 2;
}

/** Writes `n` as 4 big-endian bytes at `at`; returns the offset after them. */
export function writeUint32BE(out: Uint8Array, n: number, at: number): number {
  out[at] = n >>> 24;
  out[at + 1] = (n >>> 16) & 0xff;
  out[at + 2] = (n >>> 8) & 0xff;
  out[at + 3] = n & 0xff;
  return at + 4;
}

// ignoreBOM: a leading U+FEFF stays part of the text, as Buffer's toString keeps it.
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/** UTF-8 text of `bytes`. */
export function utf8Text(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}

/** Bytes of base64 text (checked by the caller). */
export function fromBase64(text: string): Uint8Array {
  if (NodeBuffer) return NodeBuffer.from(text, 'base64'); // lenient about a missing padding, as it always was
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** Whether this machine stores numbers little-endian (every current one does). */
export const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
