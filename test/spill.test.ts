/**
 * Out-of-core: with a 64 MB budget, 512 MB of 2 MB array chunks are persisted
 * (they spill to disk), then reduced (they come back); Redis stays within the
 * budget plus a stated slack; spilled objects read back byte-identical;
 * releasing them frees the disk; a full spill directory fails cleanly.
 */
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync as readFd,
  rmSync,
  statSync,
  statfsSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphKeys } from '../src/queue/keys.ts';
import { encodeValue } from '../src/shared/codec.ts';
import { parseObjectId } from '../src/store/objects.ts';
import { NDArray } from '../src/shared/values/ndarray.ts';
import { startRedis, type TestRedis } from './helpers/redis.ts';
import { waitFor } from './helpers/wait.ts';
import { startWeft, type Weft } from './helpers/weft.ts';
import { task } from './helpers/nodes.ts';

const MB = 1024 * 1024;
const BUDGET = 64 * MB;
const WORKERS = 2;
const CONCURRENCY = 2;
const CHUNK = 262_144; // float64 elements: 2 MiB
const CHUNKS = 256; // 512 MiB in all
/**
 * The slack over the budget: each worker slot may admit one batch (here one
 * 2 MiB chunk) at the same time, and Redis holds a value twice while it
 * arrives (query buffer) and is stored.
 */
const SLACK = WORKERS * CONCURRENCY * 2 * (2 * MB) + 8 * MB;

let redis: TestRedis;
let weft: Weft;
let admin: Redis;
let spillDir: string;
beforeAll(async () => {
  redis = await startRedis();
  spillDir = mkdtempSync(join(tmpdir(), 'weft-spill-'));
  weft = await startWeft({
    workers: WORKERS,
    redisUrl: redis.url,
    env: { STORE_MEMORY_LIMIT: String(BUDGET), SPILL_DIR: spillDir, WEFT_CONCURRENCY: String(CONCURRENCY) },
  });
  admin = new Redis(redis.url);
});
afterAll(async () => {
  admin?.disconnect();
  await weft?.close();
  await redis?.stop();
  rmSync(spillDir, { recursive: true, force: true });
});

/** `length` bytes of `path` at `offset`. */
function readSync(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const out = Buffer.alloc(length);
    expect(readFd(fd, out, 0, length, offset)).toBe(length);
    return out;
  } finally {
    closeSync(fd);
  }
}

async function stats(): Promise<any> {
  return (await fetch(`${weft.url}/v1/stats`)).json();
}

describe('spilling', () => {
  let chunks: { $oid: string }[] = [];

  it('512 MB of 2 MB chunks with a 64 MB budget: persisted (spilled), reduced (restored), right result, Redis within budget + slack', async () => {
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]));
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const graph: Record<string, unknown> = {};
    const keys: string[] = [];
    for (let i = 0; i < CHUNKS; i++) {
      graph[`chunk-${i}`] = task('array.arange', i * CHUNK, (i + 1) * CHUNK, 1, 'float64');
      keys.push(`chunk-${i}`);
    }
    const persisted = await weft.submit({ graph, keys, persist: true });
    expect(persisted.status).toBe(202);
    chunks = persisted.body.outputs;

    const reduce: Record<string, unknown> = {};
    for (let i = 0; i < CHUNKS; i++) reduce[`m-${i}`] = task('array.moments', { $oid: chunks[i].$oid });
    reduce.total = task(
      'array.combine_moments',
      Array.from({ length: CHUNKS }, (_, i) => ({ $ref: `m-${i}` })),
    );
    reduce.sum = task('array.finalize', { $ref: 'total' }, 'sum');
    reduce.max = task('array.finalize', { $ref: 'total' }, 'max');
    const res = await weft.compute(reduce, ['sum', 'max'], { wait: 600 });
    sampling = false;
    await sampler;
    expect(res.status, JSON.stringify(res.error)).toBe('done');
    const n = CHUNKS * CHUNK;
    expect(res.result).toEqual([(n * (n - 1)) / 2, n - 1]);

    const s = await stats();
    expect(s.memory.budget_bytes).toBe(BUDGET);
    expect(s.spill.total_bytes).toBeGreaterThan(400 * MB);
    expect(s.spill.objects).toBeGreaterThan(200);
    expect(
      peak,
      `Redis peaked at ${(peak / MB).toFixed(1)} MiB; budget ${BUDGET / MB} MiB + slack ${SLACK / MB} MiB`,
    ).toBeLessThanOrEqual(BUDGET + SLACK);
    console.log(
      `spill test: Redis peak ${(peak / MB).toFixed(1)} MiB (budget ${BUDGET / MB} + slack ${SLACK / MB}); spilled ${(s.spill.total_bytes / MB).toFixed(0)} MiB at ${s.spill.spill_mb_per_s} MB/s`,
    );
    // Restores are counted when workers flush their counters (every 2 s).
    const after = await waitFor('the workers to count over 100 MB restored, with a restore rate', async () => {
      const now = await stats();
      return now.spill.restored_bytes > 100 * MB && now.spill.restore_mb_per_s > 0 && now;
    });
    // Throughputs over busy time: positive, and no faster than memory could copy (a unit slip would show).
    for (const rate of [after.spill.spill_mb_per_s, after.spill.restore_mb_per_s]) {
      expect(rate).toBeGreaterThan(0);
      expect(rate).toBeLessThan(100_000);
    }
  });

  it('a spilled persisted object reads back byte-identical, and its meta says disk', async () => {
    let index = -1;
    let meta: any;
    for (let i = 0; i < CHUNKS && index < 0; i++) {
      meta = await (await fetch(`${weft.url}/v1/objects/${chunks[i].$oid}/meta`)).json();
      if (meta.location === 'disk') index = i;
    }
    expect(index).toBeGreaterThanOrEqual(0);
    expect(meta).toMatchObject({ state: 'ready', location: 'disk' });
    const oid = chunks[index].$oid;
    // As MessagePack it is streamed from its spill file, with its length announced.
    const res = await fetch(`${weft.url}/v1/objects/${oid}`, { headers: { accept: 'application/msgpack' } });
    expect(res.headers.get('content-type')).toBe('application/msgpack');
    expect(Number(res.headers.get('content-length'))).toBe(meta.size);
    const got = Buffer.from(await res.arrayBuffer());
    const data = new Float64Array(CHUNK);
    for (let k = 0; k < CHUNK; k++) data[k] = index * CHUNK + k;
    const expected = encodeValue(new NDArray('float64', [CHUNK], data));
    expect(got.length).toBe(expected.length);
    expect(Buffer.compare(got, expected)).toBe(0);
    expect(meta.size).toBe(expected.length);
    // As JSON it is decoded: the same elements.
    const json = (await (await fetch(`${weft.url}/v1/objects/${oid}`)).json()) as { $ndarray: { data: number[] } };
    expect(json.$ndarray.data.length).toBe(CHUNK);
    expect(json.$ndarray.data[CHUNK - 1]).toBe((index + 1) * CHUNK - 1);
  });

  it('mostly dead spill files are compacted; releasing spilled objects frees their disk space', async () => {
    const diskBytes = () => readdirSync(spillDir).reduce((n, f) => n + statSync(join(spillDir, f)).size, 0);
    const onDisk = diskBytes();
    expect(onDisk).toBeGreaterThan(400 * MB);
    // Release four chunks in five: the closed file is then mostly dead and gets compacted away.
    const kept = chunks.filter((_, i) => i % 5 === 0);
    // Where each kept chunk on disk lies now ("file:offset:length"): a task started now reads it there.
    const spilledAt = (oid: string) => {
      const at = parseObjectId(oid)!;
      return admin.hget(graphKeys(weft.config.prefix, at.graph).spilled, at.node);
    };
    const before = new Map<string, string>();
    for (const c of kept) {
      const at = await spilledAt(c.$oid);
      if (at) before.set(c.$oid, at);
    }
    expect(before.size).toBeGreaterThan(10);
    for (const [i, c] of chunks.entries())
      if (i % 5 !== 0) expect((await fetch(`${weft.url}/v1/objects/${c.$oid}`, { method: 'DELETE' })).status).toBe(200);
    // The first kept chunk compaction moves can still be read where it was, just after the move: a reader that
    // looked it up before is not left with a deleted file.
    const moved = await waitFor(
      'compaction to move a kept chunk',
      async () => {
        for (const [oid, at] of before) if ((await spilledAt(oid)) !== at) return { oid, at };
        return undefined;
      },
      { intervalMs: 20 },
    );
    const [file, offset, length] = moved.at.split(':');
    const old = readSync(join(spillDir, file), Number(offset), Number(length));
    const index = chunks.findIndex((c) => c.$oid === moved.oid);
    const data = new Float64Array(CHUNK);
    for (let k = 0; k < CHUNK; k++) data[k] = index * CHUNK + k;
    expect(Buffer.compare(old, encodeValue(new NDArray('float64', [CHUNK], data)))).toBe(0);
    await waitFor('compaction to free 150 MB of spill files', () => diskBytes() <= onDisk - 150 * MB, {
      intervalMs: 200,
    });
    // The survivors still read back right, wherever they moved.
    const sum = await weft.compute(
      {
        s: task(
          'array.sum',
          task(
            'array.concatenate',
            kept.map((c) => ({ $oid: c.$oid })),
          ),
        ),
      },
      's',
    );
    const expected = kept.reduce((acc, c) => {
      const i = chunks.indexOf(c);
      return acc + (((i + 1) * CHUNK - 1 + i * CHUNK) * CHUNK) / 2;
    }, 0);
    expect(sum.result, JSON.stringify(sum.error ?? sum.status)).toBe(expected);
    for (const c of kept)
      expect((await fetch(`${weft.url}/v1/objects/${c.$oid}`, { method: 'DELETE' })).status).toBe(200);
    expect((await stats()).spill).toMatchObject({ bytes: 0, objects: 0 });
    await waitFor('every spill file to be deleted', () => diskBytes() === 0, { timeoutMs: 15_000, intervalMs: 200 });
  });
});

describe('a full disk', () => {
  it('fails the graph with out_of_disk and corrupts nothing', async () => {
    const small = await startRedis();
    const dir = mkdtempSync(join(tmpdir(), 'weft-full-'));
    const w = await startWeft({
      workers: 1,
      redisUrl: small.url,
      env: {
        STORE_MEMORY_LIMIT: String(16 * MB),
        SPILL_DIR: dir,
        SPILL_DIR_LIMIT: String(8 * MB),
        WEFT_CONCURRENCY: '1',
      },
    });
    try {
      const graph: Record<string, unknown> = {};
      for (let i = 0; i < 32; i++) graph[`c-${i}`] = task('array.arange', 0, CHUNK, 1, 'float64');
      const res = await w.compute(graph, Object.keys(graph), { wait: 120 });
      expect(res.status).toBe('failed');
      expect(res.error.code).toBe('out_of_disk');
      expect(res.error.message).toMatch(/full/);
      const s = (await (await fetch(`${w.url}/v1/stats`)).json()) as any;
      expect(s.spill.out_of_disk).toMatch(/SPILL_DIR_LIMIT/);
      expect(readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0)).toBeLessThanOrEqual(8 * MB);
    } finally {
      await w.close();
      await small.stop();
      if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    }
  });

  it('on a real full disk (a 24 MiB tmpfs) the graph fails with out_of_disk; once objects are released the space comes back (no process holds a deleted file) and spilling resumes by itself', async () => {
    const mountPoint = mkdtempSync(join(tmpdir(), 'weft-small-disk-'));
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mountPoint], { encoding: 'utf8' });
    if (mounted.status !== 0) throw new Error(`could not mount a tmpfs (the test needs root): ${mounted.stderr}`);
    const small = await startRedis();
    const w = await startWeft({
      workers: 1,
      redisUrl: small.url,
      env: { STORE_MEMORY_LIMIT: String(16 * MB), SPILL_DIR: mountPoint, WEFT_CONCURRENCY: '1' },
    });
    const graphStatus = async (id: string) => (await (await fetch(`${w.url}/v1/graphs/${id}`)).json()) as any;
    const persist = async (name: string, n: number) => {
      const graph: Record<string, unknown> = {};
      for (let i = 0; i < n; i++)
        graph[`${name}-${i}`] = task('array.arange', i * CHUNK, (i + 1) * CHUNK, 1, 'float64');
      const res = await w.submit({ graph, keys: Object.keys(graph), persist: true });
      expect(res.status).toBe(202);
      const ended = await waitFor(
        `graph ${name} to end`,
        async () => {
          const info = await graphStatus(res.body.id);
          return ['done', 'failed'].includes(info.status) && info;
        },
        { timeoutMs: 60_000 },
      );
      return { ended, oids: res.body.outputs.map((o: { $oid: string }) => o.$oid) as string[] };
    };
    const used = () => {
      const s = statfsSync(mountPoint);
      return (s.blocks - s.bfree) * s.bsize;
    };
    /** Open descriptors of these processes that point to deleted files on the small disk. */
    const deletedHeld = () =>
      [process.pid, ...w.workers.map((p) => p.pid!)].flatMap((pid) =>
        readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
          try {
            const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
            return target.startsWith(mountPoint) && target.endsWith('(deleted)') ? [`${pid}: ${target}`] : [];
          } catch {
            return [];
          }
        }),
      );
    try {
      // A spills part of its 20 MiB; the API reads every value back, some from disk (it opens the spill files).
      const a = await persist('a', 10);
      expect(a.ended.status).toBe('done');
      for (const oid of a.oids) expect((await fetch(`${w.url}/v1/objects/${oid}`)).status).toBe(200);
      expect(used()).toBeGreaterThan(2 * MB);

      // B's 64 MiB cannot fit in what is left of the disk.
      const b = await persist('b', 32);
      expect(b.ended.status).toBe('failed');
      expect(b.ended.error.code).toBe('out_of_disk');
      expect((await (await fetch(`${w.url}/v1/stats`)).json()).spill.out_of_disk).toMatch(/full/);
      // What A spilled before is whole.
      const back = (await (await fetch(`${w.url}/v1/objects/${a.oids[3]}`)).json()) as any;
      expect(back.$ndarray.data[CHUNK - 1]).toBe(4 * CHUNK - 1);

      // Every object is released: A's, and the outputs B computed before it failed (kept for the retention time).
      for (const oid of [...a.oids, ...b.oids])
        expect((await fetch(`${w.url}/v1/objects/${oid}`, { method: 'DELETE' })).status).toBe(200);
      await waitFor(
        'the spill files to go and their space to come back',
        () => {
          const files = readdirSync(mountPoint);
          if (files.length > 0 || used() >= MB)
            throw new Error(
              `files ${files.join(', ')}; ${used()} bytes used; held deleted: ${deletedHeld().join(', ')}`,
            );
          return true;
        },
        { timeoutMs: 20_000, intervalMs: 200 },
      );
      expect(deletedHeld()).toEqual([]);

      // Room again: a graph that must spill is done, without restarting anything, and reads back right.
      const c = await persist('c', 10);
      expect(c.ended.status, JSON.stringify(c.ended.error)).toBe('done');
      const s = (await (await fetch(`${w.url}/v1/stats`)).json()) as any;
      expect(s.spill.objects).toBeGreaterThan(0);
      const sum = await w.compute(
        {
          s: task(
            'array.sum',
            task(
              'array.concatenate',
              c.oids.map(($oid) => ({ $oid })),
            ),
          ),
        },
        's',
      );
      const n = 10 * CHUNK;
      expect(sum.result).toBe((n * (n - 1)) / 2);
      await waitFor(
        'the stats to drop out_of_disk',
        async () => (await (await fetch(`${w.url}/v1/stats`)).json()).spill.out_of_disk === null,
        { timeoutMs: 10_000 },
      );
    } finally {
      await w.close();
      await small.stop();
      // Lazily: a handle left open (the failure this test looks for) must not hide the assertion that failed.
      spawnSync('umount', ['-l', mountPoint]);
      rmSync(mountPoint, { recursive: true, force: true });
    }
  });
});
