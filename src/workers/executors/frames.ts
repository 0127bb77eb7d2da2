/**
 * Frames of the executor protocol (docs/executors.md): a 4-byte big-endian
 * length, then one MessagePack value. Plain MessagePack (bytes are `bin`):
 * an executor in any language reads it with its own library.
 */
import { randomBytes } from 'node:crypto';
import { Packr } from 'msgpackr';
import { ByteChunks } from '../../store/byte-chunks.ts';

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

/** A frame at least this long is kept in the chunks it arrives in and decoded from them (decodeChunked). */
const CHUNKED_FROM_BYTES = 1024 * 1024;
/** In such a frame, a byte string at least this long becomes ByteChunks over the chunks, not copied. */
const UNCOPIED_FROM_BYTES = 256 * 1024;

/**
 * Splits a byte stream into frames. A small frame is joined once when it is
 * complete and decoded; a big one (a result of megabytes, read from the pipe
 * 64 KiB at a time) is kept in the chunks it came in, and its big byte
 * strings come out of it as ByteChunks: Node never copies them.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private need = -1;

  constructor(private readonly onFrame: (message: unknown) => void) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < 4) return;
        this.need = this.take(4).readUInt32BE(0);
        if (this.need > MAX_FRAME) throw new FrameError(`An executor sent a frame of ${this.need} bytes.`);
      }
      if (this.buffered < this.need) return;
      const need = this.need;
      this.need = -1;
      if (need >= CHUNKED_FROM_BYTES) this.onFrame(decodeChunked(this.takeChunks(need), need));
      else this.onFrame(packr.unpack(this.take(need)));
    }
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return out;
  }

  /** The next n bytes as the chunks (or parts of them) they are in, uncopied. */
  private takeChunks(n: number): Buffer[] {
    const out: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const chunk = this.chunks.shift()!;
      if (chunk.length <= left) {
        out.push(chunk);
        left -= chunk.length;
      } else {
        out.push(chunk.subarray(0, left));
        this.chunks.unshift(chunk.subarray(left));
        left = 0;
      }
    }
    this.buffered -= n;
    return out;
  }
}

/**
 * One frame's MessagePack value from the chunks it arrived in: the frame is
 * copied without its big byte strings, each replaced by a 16-byte stand-in
 * (0xC1, which MessagePack values never start with, and random bytes of
 * this call, then its number), decoded, and the stand-ins replaced by
 * ByteChunks viewing the chunks.
 */
export function decodeChunked(chunks: Buffer[], size: number): unknown {
  const cursor = new ChunkCursor(chunks, size);
  const small: Buffer[] = [];
  const big: ByteChunks[] = [];
  const mark = randomBytes(16);
  mark[0] = 0xc1;
  const copy = (n: number): void => {
    small.push(cursor.bytes(n));
  };
  const walk = (depth: number): void => {
    if (depth > 64) throw new FrameError('An executor sent a frame nested more than 64 deep.');
    const b = cursor.peek();
    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) {
      copy(1); // fixint, nil, false, true
    } else if (b <= 0x9f) {
      copy(1); // fixmap, fixarray
      times(b <= 0x8f ? 2 * (b & 0x0f) : b & 0x0f, depth);
    } else if (b <= 0xbf) {
      copy(1 + (b & 0x1f)); // fixstr
    } else {
      walkSized(b, depth);
    }
  };
  const walkSized = (b: number, depth: number): void => {
    const form = SIZED[b];
    if (!form) throw new FrameError(`An executor sent a frame with the byte 0x${b.toString(16)} where a value starts.`);
    const [field, kind] = form;
    if (kind === 'fixed') {
      copy(1 + field);
      return;
    }
    const header = cursor.bytes(1 + field);
    const n = field === 1 ? header[1] : field === 2 ? header.readUInt16BE(1) : header.readUInt32BE(1);
    if (kind === 'bin' && n >= UNCOPIED_FROM_BYTES) {
      const stand = Buffer.from(mark);
      stand.writeUInt32BE(big.length, 12);
      big.push(new ByteChunks(cursor.chunks(n), n));
      small.push(Buffer.from([0xc4, 16]), stand);
      return;
    }
    small.push(header);
    if (kind === 'array') times(n, depth);
    else if (kind === 'map') times(2 * n, depth);
    else copy(kind === 'ext' ? 1 + n : n); // bin, str; ext: its type byte, then n bytes
  };
  const times = (n: number, depth: number) => {
    for (let i = 0; i < n; i++) walk(depth + 1);
  };
  walk(0);
  if (cursor.left !== 0) throw new FrameError(`An executor sent a frame with ${cursor.left} bytes after its value.`);
  const message = packr.unpack(Buffer.concat(small));
  return big.length === 0 ? message : restore(message, mark, big);
}

/** The formats with a field after the first byte: its length, and what follows it ('fixed': nothing more). */
const SIZED: Record<number, [field: number, kind: 'bin' | 'str' | 'ext' | 'array' | 'map' | 'fixed']> = {
  196: [1, 'bin'],
  197: [2, 'bin'],
  198: [4, 'bin'],
  199: [1, 'ext'],
  200: [2, 'ext'],
  201: [4, 'ext'],
  202: [4, 'fixed'],
  203: [8, 'fixed'],
  204: [1, 'fixed'],
  205: [2, 'fixed'],
  206: [4, 'fixed'],
  207: [8, 'fixed'],
  208: [1, 'fixed'],
  209: [2, 'fixed'],
  210: [4, 'fixed'],
  211: [8, 'fixed'],
  212: [2, 'fixed'],
  213: [3, 'fixed'],
  214: [5, 'fixed'],
  215: [9, 'fixed'],
  216: [17, 'fixed'],
  217: [1, 'str'],
  218: [2, 'str'],
  219: [4, 'str'],
  220: [2, 'array'],
  221: [4, 'array'],
  222: [2, 'map'],
  223: [4, 'map'],
};

/** The decoded message with each stand-in replaced by its ByteChunks. */
function restore(value: unknown, mark: Buffer, big: ByteChunks[]): unknown {
  if (value instanceof Uint8Array) {
    if (value.length !== 16 || Buffer.compare(value.subarray(0, 12), mark.subarray(0, 12)) !== 0) return value;
    return big[Buffer.from(value.buffer, value.byteOffset, 16).readUInt32BE(12)];
  }
  if (Array.isArray(value)) return value.map((v) => restore(v, mark, big));
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, restore(v, mark, big)]));
  return value;
}

/** Reads across a frame's chunks. */
class ChunkCursor {
  private i = 0;
  private at = 0;
  left: number;

  constructor(
    private readonly list: Buffer[],
    size: number,
  ) {
    this.left = size;
  }

  peek(): number {
    this.settle();
    if (this.left < 1) throw new FrameError('An executor sent a frame that ends inside a value.');
    return this.list[this.i][this.at];
  }

  /** The next n bytes in one buffer (a view where they lie in one chunk). */
  bytes(n: number): Buffer {
    const parts = this.chunks(n);
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, n);
  }

  /** The next n bytes as views of the chunks they lie in. */
  chunks(n: number): Buffer[] {
    if (n > this.left) throw new FrameError('An executor sent a frame that ends inside a value.');
    const out: Buffer[] = [];
    let need = n;
    while (need > 0) {
      this.settle();
      const chunk = this.list[this.i];
      const k = Math.min(need, chunk.length - this.at);
      out.push(chunk.subarray(this.at, this.at + k));
      this.at += k;
      need -= k;
    }
    this.left -= n;
    return out;
  }

  private settle(): void {
    while (this.i < this.list.length && this.at >= this.list[this.i].length) {
      this.i++;
      this.at = 0;
    }
  }
}
