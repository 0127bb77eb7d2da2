/**
 * Frames of the executor protocol (docs/executors.md): a 4-byte big-endian
 * length, then one MessagePack value. Plain MessagePack (bytes are `bin`):
 * an executor in any language reads it with its own library.
 */
import { Packr } from 'msgpackr';

/** Largest frame accepted from an executor: a result is at most a 512 MiB value, plus the frame around it. */
export const MAX_FRAME = 2 ** 31 - 1;

const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'auto' as 'bigint' });

export function encodeFrame(message: unknown): Buffer {
  const body = packr.pack(message);
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

export class FrameError extends Error {
  override readonly name = 'FrameError';
}

/**
 * Splits a byte stream into frames. Chunks are kept as they come and joined
 * once per frame, so a 64 MB result read in 64 KB chunks is copied once.
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
      const body = this.take(this.need);
      this.need = -1;
      this.onFrame(packr.unpack(body));
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
}
