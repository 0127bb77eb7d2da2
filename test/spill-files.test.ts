/**
 * Spill files on a real disk, read back on the reader thread: values of any
 * length start at multiples of 8 (so arrays read back are views, not copies),
 * reads of neighbouring values are served together and still give each value
 * exactly its bytes, and restores are counted in bytes and busy time.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

describe('spill files on a full disk (a 3 MiB tmpfs this test mounts: CI runs as root)', () => {
  const mountPoint = mkdtempSync(join(tmpdir(), 'weft-small-disk-'));
  let small: SpillFiles;
  beforeAll(() => {
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mountPoint], { encoding: 'utf8' });
    if (mounted.status !== 0) throw new Error(`could not mount a tmpfs (the test needs root): ${mounted.stderr}`);
    small = new SpillFiles(join(mountPoint, 'spill'));
  });
  afterAll(async () => {
    await small?.close();
    spawnSync('umount', [mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  });

  it('an append that does not fit fails with out_of_disk and leaves the file as it was: what was spilled before reads back whole', async () => {
    const before = [Buffer.alloc(1_000_000, 5), Buffer.alloc(12_345, 6)];
    const kept = await small.append(before);
    // 1,500 parts of 1.5 KB (more than a writev takes at once) and then more than the disk has left: short writes first.
    const tooMuch = [
      ...Array.from({ length: 1500 }, (_, i) => Buffer.alloc(1500, i % 250)),
      Buffer.alloc(1_000_000, 7),
    ];
    await expect(small.append(tooMuch)).rejects.toMatchObject({ code: 'out_of_disk' });
    const file = join(mountPoint, 'spill', kept[0].file);
    expect(statSync(file).size).toBe(kept[1].offset + kept[1].length);
    for (const [i, at] of kept.entries()) expect((await small.read(at)).equals(before[i])).toBe(true);
    // What fits still goes, after the values kept, and reads back.
    const next = await small.append([Buffer.alloc(100_000, 8)]);
    expect(next[0].offset).toBeGreaterThanOrEqual(kept[1].offset + kept[1].length);
    expect((await small.read(next[0])).equals(Buffer.alloc(100_000, 8))).toBe(true);
  });

  it('a file started by an append that does not fit is removed, not left empty', async () => {
    const fresh = new SpillFiles(join(mountPoint, 'spill'));
    try {
      await expect(fresh.append([Buffer.alloc(4_000_000, 9)])).rejects.toMatchObject({ code: 'out_of_disk' });
      expect(await fresh.ownFiles()).toEqual([]);
      // The next append that fits starts a file of its own.
      const at = await fresh.append([Buffer.alloc(10, 1)]);
      expect((await fresh.read(at[0])).equals(Buffer.alloc(10, 1))).toBe(true);
      expect((await fresh.ownFiles()).map((f) => f.name)).toEqual([at[0].file]);
    } finally {
      await fresh.close();
    }
  });

  it('a batch of many parts that fits is written whole, though one writev takes at most 1,024 of them', async () => {
    const values = Array.from({ length: 3000 }, (_, i) => Buffer.alloc(97, i % 251));
    const locations = await small.append(values);
    for (const [i, at] of locations.entries())
      expect((await small.read(at)).equals(values[i]), `value ${i}`).toBe(true);
  });
});
