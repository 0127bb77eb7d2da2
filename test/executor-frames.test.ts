/** The executor protocol's frames as the worker writes and reads them (src/workers/executors/frames.ts). */
import { createHash } from 'node:crypto';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { ByteChunks } from '../src/store/byte-chunks.ts';
import { decodeChunked, encodeFrameChunks, FrameError, FrameReader } from '../src/workers/executors/frames.ts';

describe('executor frames', () => {
  it('a frame written in chunks is the length and the MessagePack of the message, big byte strings not copied', () => {
    const big = Buffer.alloc(300_000, 7);
    const message = {
      t: 'run',
      batch: 70_000,
      tasks: Array.from({ length: 20 }, (_, id) => ({
        id,
        graph: 'g',
        key: `k${id}`,
        template: Buffer.from([0x92, 0, 1]),
        inputs: id === 3 ? [big, Buffer.alloc(0), Buffer.alloc(70_000, 1)] : [Buffer.from('x')],
        returns: id === 4 ? 2 : null,
      })),
    };
    const chunks = encodeFrameChunks(message);
    expect(chunks).toContain(big);
    const frame = Buffer.concat(chunks);
    expect(frame.readUInt32BE(0)).toBe(frame.length - 4);
    // Standard MessagePack: another library reads it as the message (msgpackr, decoding maps as objects).
    expect(new Packr({ useRecords: false, mapsAsObjects: true }).unpack(frame.subarray(4))).toEqual(message);
  });

  it('a reader splits a stream cut anywhere into its frames', () => {
    const messages = [
      { t: 'hello', protocol: 1 },
      { t: 'done', batch: 1, results: [{ id: 0, values: [Buffer.alloc(5000, 2)] }] },
    ];
    const stream = Buffer.concat(messages.flatMap((m) => encodeFrameChunks(m)));
    for (const cut of [1, 3, 4, 7, 100, 4999]) {
      const got: unknown[] = [];
      const reader = new FrameReader((m) => got.push(m));
      for (let at = 0; at < stream.length; at += cut) reader.push(stream.subarray(at, at + cut));
      expect(got).toEqual(messages);
    }
  });

  it('a reader keeps a frame of megabytes in its chunks: big byte strings come out as ByteChunks over them, uncopied', () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 11);
    for (let i = 0; i < big.length; i += 4093) big[i] = i % 251;
    const messages = [
      { t: 'done', batch: 1, results: [{ id: 0, values: [Buffer.from('small')] }] },
      {
        t: 'done',
        batch: 2,
        results: [{ id: 0, ok: true, values: [big, Buffer.alloc(300_000, 3), Buffer.from('after')] }],
      },
      { t: 'done', batch: 3, results: [] },
    ];
    const stream = Buffer.concat(messages.flatMap((m) => encodeFrameChunks(m)));
    // 65,536 is how a pipe is read; the others cut the length prefix and the frame's end at odd places.
    for (const cut of [65_536, 65_537, 1_000_003, stream.length - 7]) {
      const got: any[] = [];
      const reader = new FrameReader((m) => got.push(m));
      const pushed: Buffer[] = [];
      for (let at = 0; at < stream.length; at += cut) {
        const slice = stream.subarray(at, at + cut);
        pushed.push(Buffer.allocUnsafeSlow(slice.length)); // memory of its own, as a pipe's reads have
        slice.copy(pushed.at(-1)!);
        reader.push(pushed.at(-1)!);
      }
      const values = got[1].results[0].values;
      expect(values[0]).toBeInstanceOf(ByteChunks);
      expect(values[1]).toBeInstanceOf(ByteChunks);
      expect(Buffer.isBuffer(values[2])).toBe(true);
      // Uncopied: each chunk of the value views the memory of a chunk the reader was given.
      for (const chunk of (values[0] as ByteChunks).chunks)
        expect(pushed.some((p) => p.buffer === chunk.buffer)).toBe(true);
      expect(plain(got)).toEqual(plain(messages));
    }
  });

  it('decodeChunked reads every MessagePack form across chunk boundaries as msgpackr does', () => {
    const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'bigint' });
    const message = {
      ints: [
        0,
        127,
        128,
        255,
        256,
        65_535,
        65_536,
        2 ** 32 - 1,
        2 ** 32,
        -1,
        -32,
        -33,
        -128,
        -129,
        -32_768,
        -32_769,
        -(2 ** 31),
      ],
      big64: [2n ** 63n, -(2n ** 63n)],
      floats: [0.5, -1e300, Number.POSITIVE_INFINITY],
      strs: ['', 'é'.repeat(20), 's'.repeat(40), 't'.repeat(300), 'u'.repeat(70_000)],
      nil: null,
      bools: [true, false],
      nested: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, [i, { x: Buffer.alloc(i, 7) }]])),
      long: Array.from({ length: 70_000 }, (_, i) => i % 3),
      bins: [Buffer.alloc(200, 1), Buffer.alloc(70_000, 2), Buffer.alloc(2_000_000, 3)],
      ext: new Date(0),
    };
    const body = packr.pack(message);
    const size = body.length;
    for (const cut of [1, 7, 65_536]) {
      if (cut === 1 && size > 3_000_000) continue;
      const chunks: Buffer[] = [];
      for (let at = 0; at < size; at += cut === 1 ? 4096 : cut)
        chunks.push(body.subarray(at, at + (cut === 1 ? 4096 : cut)));
      expect(plain(decodeChunked(chunks, size))).toEqual(plain(packr.unpack(body)));
    }
    expect(() => decodeChunked([body.subarray(0, size - 1)], size - 1)).toThrow(FrameError);
    expect(() => decodeChunked([body, Buffer.from([0xc0])], size + 1)).toThrow(/after its value/);
    expect(() => decodeChunked([Buffer.from([0x91, 0xc1])], 2)).toThrow(/0xc1/);
  });
});

/** The message with ByteChunks joined, to compare with what was sent (long byte strings by length and hash: fast to compare). */
function plain(value: unknown): unknown {
  if (value instanceof ByteChunks) return plain(value.join());
  if (value instanceof Uint8Array && value.length > 4096)
    return `${value.length} bytes, sha1 ${createHash('sha1').update(value).digest('hex')}`;
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array) && !(value instanceof Date))
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}
