/**
 * Spill files on a real disk, read back on the reader thread: values of any
 * length start at multiples of 8 (so arrays read back are views, not copies),
 * reads of neighbouring values are served together and still give each value
 * exactly its bytes, and restores are counted in bytes and busy time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeValue, encodeValue } from '../src/shared/codec.ts';
import { SpillFiles } from '../src/store/spill.ts';
import { NDArray } from '../src/shared/values/ndarray.ts';

const dir = mkdtempSync(join(tmpdir(), 'weft-spill-files-'));
const files = new SpillFiles(dir);
afterAll(async () => {
  await files.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('spill files', () => {
  it('puts every value at a multiple of 8 and reads each back exactly, alone or with its neighbours', async () => {
    const values = [1, 13, 4097, 8, 3, 65_537, 2].map((n, i) => Buffer.alloc(n, i + 1));
    const locations = [...(await files.append(values.slice(0, 4))), ...(await files.append(values.slice(4)))];
    for (const at of locations) expect(at.offset % 8).toBe(0);
    expect(locations.map((l) => l.length)).toEqual(values.map((v) => v.length));
    files.restored.take();
    // All at once: the thread joins neighbours into one read and hands each request its own bytes.
    const back = await Promise.all(locations.map((at) => files.readOnThread(at)));
    back.forEach((b, i) => expect(b.equals(values[i]), `value ${i}`).toBe(true));
    // In reverse, one at a time.
    for (let i = locations.length - 1; i >= 0; i--)
      expect((await files.readOnThread(locations[i])).equals(values[i])).toBe(true);
    const restored = files.restored.take();
    expect(restored.bytes).toBe(2 * values.reduce((n, v) => n + v.length, 0));
    expect(restored.periods.length).toBeGreaterThan(0);
    for (let i = 0; i < restored.periods.length; i += 2)
      expect(restored.periods[i + 1]).toBeGreaterThan(restored.periods[i]);
  });

  it('an array chunk read back is a view of the bytes read, with the right elements', async () => {
    const chunks = [3, 1000, 262_144].map(
      (n, k) =>
        new NDArray(
          'float64',
          [n],
          new Float64Array(n).map((_, i) => i * 0.5 + k),
        ),
    );
    // An odd-length value before them, so only the padding aligns them.
    const [, ...locations] = await files.append([Buffer.alloc(5, 9), ...chunks.map((c) => encodeValue(c))]);
    const back = await Promise.all(locations.map((at) => files.readOnThread(at)));
    back.forEach((bytes, k) => {
      const a = decodeValue(bytes) as NDArray;
      const bytesOf = (x: Float64Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
      expect(a.shape).toEqual(chunks[k].shape);
      expect(bytesOf(a.data as Float64Array).equals(bytesOf(chunks[k].data as Float64Array))).toBe(true);
      if (chunks[k].data.byteLength >= 4096) expect(a.data.buffer).toBe(bytes.buffer);
    });
  });
});
