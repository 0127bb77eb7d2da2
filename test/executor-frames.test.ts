/** The executor protocol's frames as the worker writes and reads them (src/workers/executors/frames.ts). */
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { encodeFrameChunks, FrameReader } from '../src/workers/executors/frames.ts';

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

  it('a reader gathers a frame of megabytes as it arrives, with the frames around it in the same chunks', () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 11);
    for (let i = 0; i < big.length; i += 4093) big[i] = i % 251;
    const messages = [
      { t: 'done', batch: 1, results: [{ id: 0, values: [Buffer.from('small')] }] },
      { t: 'done', batch: 2, results: [{ id: 0, values: [big, Buffer.from('after')] }] },
      { t: 'done', batch: 3, results: [] },
    ];
    const stream = Buffer.concat(messages.flatMap((m) => encodeFrameChunks(m)));
    // 65,536 is how a pipe is read; the others cut the length prefix and the frame's end at odd places.
    for (const cut of [65_536, 65_537, 1_000_003, stream.length - 7]) {
      const got: unknown[] = [];
      const reader = new FrameReader((m) => got.push(m));
      for (let at = 0; at < stream.length; at += cut) reader.push(stream.subarray(at, at + cut));
      expect(got).toEqual(messages);
    }
  });
});
