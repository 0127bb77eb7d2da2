/**
 * Reading an extension's payload without calling msgpackr from inside msgpackr.
 *
 * An extension's unpack runs while msgpackr is decoding the value around it;
 * a nested `unpack` there makes msgpackr save its state, and it saves the
 * source by copying all of it. A request body of n foreign values (a Dask
 * graph whose every task holds a pickled callable or tuple) was copied n
 * times, and each decoded value kept a view of its copy: 1.2 GB of memory for
 * an 800 kB body of 1,500 pickles. The payloads weft's own encoders write are
 * simple (an array of strings, unsigned integers and one bin), so this reader
 * takes them as they are and the unpacks fall back to msgpackr for any other
 * form.
 */
import { utf8Text } from '../bytes.ts';

export class PayloadReader {
  at = 0;
  constructor(readonly bytes: Uint8Array) {}

  /** The length of an array header at the cursor, or -1 when there is none. */
  arrayHeader(): number {
    const b = this.bytes[this.at];
    if (b >= 0x90 && b <= 0x9f) {
      this.at += 1;
      return b - 0x90;
    }
    if (b === 0xdc) return this.uint(2, 1);
    if (b === 0xdd) return this.uint(4, 1);
    return -1;
  }

  /** A string at the cursor, or undefined when there is none. */
  str(): string | undefined {
    const b = this.bytes[this.at];
    let n: number;
    if (b >= 0xa0 && b <= 0xbf) {
      n = b - 0xa0;
      this.at += 1;
    } else if (b === 0xd9) n = this.uint(1, 1);
    else if (b === 0xda) n = this.uint(2, 1);
    else if (b === 0xdb) n = this.uint(4, 1);
    else return undefined;
    if (n < 0 || this.at + n > this.bytes.length) return undefined;
    const text = utf8Text(this.bytes.subarray(this.at, this.at + n));
    this.at += n;
    return text;
  }

  /** A bin at the cursor as a view of the payload, or undefined when there is none. */
  bin(): Uint8Array | undefined {
    const b = this.bytes[this.at];
    let n: number;
    if (b === 0xc4) n = this.uint(1, 1);
    else if (b === 0xc5) n = this.uint(2, 1);
    else if (b === 0xc6) n = this.uint(4, 1);
    else return undefined;
    if (n < 0 || this.at + n > this.bytes.length) return undefined;
    const view = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return view;
  }

  /** A non-negative integer that fits a double exactly, or undefined. */
  count(): number | undefined {
    const b = this.bytes[this.at];
    if (b <= 0x7f) {
      this.at += 1;
      return b;
    }
    if (b === 0xcc) return this.uint(1, 1);
    if (b === 0xcd) return this.uint(2, 1);
    if (b === 0xce) return this.uint(4, 1);
    return undefined;
  }

  get done(): boolean {
    return this.at === this.bytes.length;
  }

  /** A big-endian unsigned integer of `width` bytes after `skip` marker bytes; -1 past the end. */
  private uint(width: number, skip: number): number {
    const start = this.at + skip;
    if (start + width > this.bytes.length) return -1;
    let n = 0;
    for (let i = 0; i < width; i++) n = n * 256 + this.bytes[start + i];
    this.at = start + width;
    return n;
  }
}
