/**
 * Frames of the executor protocol (docs/executors.md): a 4-byte big-endian
 * length, then one MessagePack value. Plain MessagePack (bytes are `bin`):
 * an executor in any language reads it with its own library.
 */
import { Packr } from 'msgpackr';

/** Largest frame accepted from an executor: a result is at most a 512 MiB value, plus the frame around it. */
export const MAX_FRAME = 2 ** 31 - 1;

const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'auto' as 'bigint' });

/** Byte strings at least this long are written as their own chunk, never copied into the frame. */
const OWN_CHUNK_BYTES = 64 * 1024;

/**
 * A frame as chunks to write one after the other, for a message whose big
 * byte strings (inputs of megabytes) must not be copied: the MessagePack of
 * `message` is built around them, each written with a `bin` header and then
 * as itself. Maps, arrays, strings, numbers, booleans, null and bytes only.
 */
export function encodeFrameChunks(message: unknown): Buffer[] {
  const chunks: Buffer[] = [];
  let small: Buffer[] = [];
  let size = 0;
  const put = (b: Buffer) => {
    small.push(b);
    size += b.length;
  };
  const write = (v: unknown): void => {
    if (v instanceof Uint8Array) {
      const bytes = Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      put(binHeader(bytes.length));
      if (bytes.length < OWN_CHUNK_BYTES) {
        put(bytes);
        return;
      }
      chunks.push(Buffer.concat(small));
      small = [];
      chunks.push(bytes);
      size += bytes.length;
    } else if (Array.isArray(v)) {
      put(header(v.length, 0x90, 0xdc, 0xdd, 15));
      for (const item of v) write(item);
    } else if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v).filter(([, x]) => x !== undefined);
      put(header(entries.length, 0x80, 0xde, 0xdf, 15));
      for (const [name, item] of entries) {
        put(packr.pack(name));
        write(item);
      }
    } else put(packr.pack(v));
  };
  write(message);
  chunks.push(Buffer.concat(small));
  const length = Buffer.allocUnsafe(4);
  length.writeUInt32BE(size, 0);
  return [length, ...chunks];
}

function binHeader(n: number): Buffer {
  if (n < 0x100) return Buffer.from([0xc4, n]);
  const b = Buffer.allocUnsafe(n < 0x10000 ? 3 : 5);
  if (n < 0x10000) {
    b[0] = 0xc5;
    b.writeUInt16BE(n, 1);
  } else {
    b[0] = 0xc6;
    b.writeUInt32BE(n, 1);
  }
  return b;
}

/** A MessagePack array or map header: fix form up to `fixMax` entries, then 16- and 32-bit forms. */
function header(n: number, fix: number, h16: number, h32: number, fixMax: number): Buffer {
  if (n <= fixMax) return Buffer.from([fix | n]);
  const b = Buffer.allocUnsafe(n < 0x10000 ? 3 : 5);
  b[0] = n < 0x10000 ? h16 : h32;
  if (n < 0x10000) b.writeUInt16BE(n, 1);
  else b.writeUInt32BE(n, 1);
  return b;
}

export class FrameError extends Error {
  override readonly name = 'FrameError';
}

/** A frame at least this long is gathered into its own buffer as it arrives rather than joined at its end. */
const GATHER_FROM_BYTES = 1024 * 1024;

/**
 * Splits a byte stream into frames. A big frame (a result of megabytes,
 * read from the pipe 64 KiB at a time) is copied into a buffer of its size
 * chunk by chunk as it arrives, while the executor is still writing it, so
 * its one copy in Node is done by the time its last byte is; small frames
 * are joined once when complete.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private need = -1;
  /** The big frame being gathered, and how much of it has arrived. */
  private gathering: Buffer | undefined;
  private gathered = 0;

  constructor(private readonly onFrame: (message: unknown) => void) {}

  push(chunk: Buffer): void {
    if (this.gathering) {
      chunk = this.gather(chunk);
      if (chunk.length === 0) return;
    }
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < 4) return;
        this.need = this.take(4).readUInt32BE(0);
        if (this.need > MAX_FRAME) throw new FrameError(`An executor sent a frame of ${this.need} bytes.`);
        if (this.need >= GATHER_FROM_BYTES && this.buffered < this.need) {
          this.gathering = Buffer.allocUnsafe(this.need);
          this.gathered = 0;
          const rest = this.take(this.buffered);
          this.gather(rest);
          return;
        }
      }
      if (this.buffered < this.need) return;
      const body = this.take(this.need);
      this.need = -1;
      this.onFrame(packr.unpack(body));
    }
  }

  /** Copies what belongs to the frame being gathered; returns what comes after it (the next frames). */
  private gather(chunk: Buffer): Buffer {
    const frame = this.gathering!;
    const n = Math.min(chunk.length, frame.length - this.gathered);
    chunk.copy(frame, this.gathered, 0, n);
    this.gathered += n;
    if (this.gathered < frame.length) return chunk.subarray(chunk.length);
    this.gathering = undefined;
    this.need = -1;
    this.onFrame(packr.unpack(frame));
    return chunk.subarray(n);
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return out;
  }
}
