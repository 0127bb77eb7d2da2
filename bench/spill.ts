/**
 * `npm run bench -- spill`: the spill test's graph at full size, timed: 256
 * chunks of 2 MiB (512 MiB) persisted, then reduced, once with a 64 MiB store
 * budget (most chunks go to disk and come back) and once with no budget, each
 * on a fresh Redis. Spill and restore throughput (bytes over the time any
 * worker was spilling or restoring) are printed next to this disk's raw
 * sequential write and read speed measured in the same run (before and after
 * the graphs, the faster kept), with the same block size and sync policy as
 * the spiller.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { freePort, startRedis } from '../test/helpers/redis.ts';
import { startProcess, stopProcesses } from './lib.ts';
import { decodeValue } from '../src/shared/codec.ts';
import { NDArray } from '../src/shared/values/ndarray.ts';

const MB = 1024 * 1024;
const CHUNK = 262_144;
const CHUNKS = 256;
const BLOCK = 8 * MB;

/**
 * Empties the page cache so reads come from the disk, as a restore long after
 * its spill does (needs root; without it both sides read from memory and the
 * comparison says so).
 */
function dropCaches(): boolean {
  try {
    execSync('sync');
    writeFileSync('/proc/sys/vm/drop_caches', '1');
    return true;
  } catch {
    return false;
  }
}

async function rawDisk(dir: string, bytes: number): Promise<{ writeMBps: number; readMBps: number }> {
  const path = join(dir, 'raw.bin');
  const block = Buffer.alloc(BLOCK, 7);
  const file = await open(path, 'w');
  let t0 = performance.now();
  for (let at = 0; at < bytes; at += BLOCK) {
    await file.write(block, 0, BLOCK, at);
    await file.datasync();
  }
  const writeMs = performance.now() - t0;
  await file.close();
  dropCaches();
  const reader = await open(path, 'r');
  const into = Buffer.allocUnsafe(BLOCK);
  t0 = performance.now();
  for (let at = 0; at < bytes; at += BLOCK) await reader.read(into, 0, BLOCK, at);
  const readMs = performance.now() - t0;
  await reader.close();
  rmSync(path);
  return { writeMBps: bytes / 1e6 / (writeMs / 1000), readMBps: bytes / 1e6 / (readMs / 1000) };
}

/**
 * Reads every persisted chunk back through `GET /v1/objects/{oid}` (4 at a
 * time, page cache dropped first), checking each one's bytes: the store's
 * restore path end to end, HTTP included, with no computation sharing the
 * cores, as the raw read it is compared with has none.
 */
async function readBack(api: string, oids: string[]): Promise<{ bytes: number; ms: number }> {
  dropCaches();
  let next = 0;
  let bytes = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < oids.length) {
        const i = next++;
        const res = await fetch(`${api}/v1/objects/${oids[i]}`, { headers: { accept: 'application/msgpack' } });
        const body = Buffer.from(await res.arrayBuffer());
        const chunk = res.status === 200 ? decodeValue(body) : null;
        if (!(chunk instanceof NDArray) || chunk.data.length !== CHUNK)
          throw new Error(`chunk ${i} read back as ${res.status}, ${body.length} bytes`);
        if (chunk.data[0] !== i * CHUNK || chunk.data[CHUNK - 1] !== (i + 1) * CHUNK - 1)
          throw new Error(`chunk ${i} read back wrong`);
        bytes += body.length;
      }
    }),
  );
  return { bytes, ms: performance.now() - t0 };
}

async function runGraph(
  budget: number,
  spillDir: string,
): Promise<{ ms: number; stats: any; cold: boolean; readBack: { bytes: number; ms: number } }> {
  const redis = await startRedis();
  const port = await freePort();
  const env = {
    REDIS_URL: redis.url,
    PORT: String(port),
    WEFT_PREFIX: 'spillbench',
    STORE_MEMORY_LIMIT: String(budget),
    SPILL_DIR: spillDir,
  };
  const api = `http://127.0.0.1:${port}`;
  const procs: ChildProcess[] = [];
  try {
    procs.push((await startProcess('src/api/main.ts', [], env, 'listening')).child);
    for (let i = 0; i < 2; i++) procs.push((await startProcess('src/workers/main.ts', [], env, 'running')).child);
    const post = async (body: unknown) =>
      (await (
        await fetch(`${api}/v1/graphs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        })
      ).json()) as any;
    const graph: Record<string, unknown> = {};
    for (let i = 0; i < CHUNKS; i++)
      graph[`chunk-${i}`] = { $op: 'array.arange', args: [i * CHUNK, (i + 1) * CHUNK, 1, 'float64'] };
    const t0 = performance.now();
    const persisted = await post({ graph, keys: Object.keys(graph), persist: true });
    // All chunks made (and most spilled) before the reduction starts, so it restores them from disk.
    while (((await (await fetch(`${api}/v1/graphs/${persisted.id}`)).json()) as any).status !== 'done')
      await new Promise((r) => setTimeout(r, 20));
    const madeMs = performance.now() - t0;
    const cold = dropCaches();
    const t1 = performance.now();
    const reduce: Record<string, unknown> = {};
    persisted.outputs.forEach(
      (o: { $oid: string }, i: number) => (reduce[`m-${i}`] = { $op: 'array.moments', args: [o] }),
    );
    reduce.total = {
      $op: 'array.combine_moments',
      args: [persisted.outputs.map((_: unknown, i: number) => ({ $ref: `m-${i}` }))],
    };
    reduce.sum = { $op: 'array.finalize', args: [{ $ref: 'total' }, 'sum'] };
    const res = await post({ graph: reduce, keys: 'sum', wait: 1200 });
    const ms = madeMs + (performance.now() - t1);
    const n = CHUNKS * CHUNK;
    if (res.status !== 'done' || res.result !== (n * (n - 1)) / 2)
      throw new Error(`spill graph gave ${JSON.stringify(res).slice(0, 300)}`);
    await new Promise((r) => setTimeout(r, 2500)); // workers write their restore counters every 2 s
    const stats = await (await fetch(`${api}/v1/stats`)).json();
    return {
      ms,
      stats,
      cold,
      readBack: await readBack(
        api,
        persisted.outputs.map((o: { $oid: string }) => o.$oid),
      ),
    };
  } finally {
    await stopProcesses(procs);
    await redis.stop();
  }
}

export async function spillBench(log: (line: string) => void): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-spillbench-'));
  try {
    // The disk is measured before and after the graphs, and the faster of each kept: the
    // spill and restore figures are compared with the best this disk did in the run.
    const before = await rawDisk(dir, 512 * MB);
    const budgeted = await runGraph(64 * MB, join(dir, 'spill-budget'));
    const free = await runGraph(64 * 1024 * MB, join(dir, 'spill-free'));
    const after = await rawDisk(dir, 512 * MB);
    const disk = {
      writeMBps: Math.max(before.writeMBps, after.writeMBps),
      readMBps: Math.max(before.readMBps, after.readMBps),
    };
    if (free.stats.spill.total_bytes !== 0) throw new Error('the unbudgeted run spilled');
    if (budgeted.stats.spill.total_bytes < 256 * MB)
      throw new Error(`the 64 MiB run spilled only ${budgeted.stats.spill.total_bytes} bytes`);
    const ratio = budgeted.ms / free.ms;
    const s = budgeted.stats.spill;
    const figures = {
      budgetMiB: 64,
      dataMiB: 512,
      budgetedMs: Math.round(budgeted.ms),
      unbudgetedMs: Math.round(free.ms),
      ratio: +ratio.toFixed(2),
      spilledMiB: Math.round(s.total_bytes / MB),
      restoredMiB: Math.round(s.restored_bytes / MB),
      spillMBps: s.spill_mb_per_s,
      restoreMBps: s.restore_mb_per_s,
      readBackMBps: Math.round(budgeted.readBack.bytes / 1e6 / (budgeted.readBack.ms / 1000)),
      readBackUnbudgetedMBps: Math.round(free.readBack.bytes / 1e6 / (free.readBack.ms / 1000)),
      rawDiskWriteMBps: Math.round(disk.writeMBps),
      rawDiskReadMBps: Math.round(disk.readMBps),
      spillOfRaw: +(s.spill_mb_per_s / disk.writeMBps).toFixed(2),
      restoreOfRaw: +(s.restore_mb_per_s / disk.readMBps).toFixed(2),
      readsFromDisk: budgeted.cold,
    };
    log(
      `spill: 512 MiB of 2 MiB chunks persisted then reduced: with a 64 MiB budget ${(budgeted.ms / 1000).toFixed(2)} s, with none ${(free.ms / 1000).toFixed(2)} s: ${ratio.toFixed(2)}x; ` +
        `spilled ${figures.spilledMiB} MiB at ${s.spill_mb_per_s} MB/s = ${Math.round(figures.spillOfRaw * 100)}% of the raw disk write (${figures.rawDiskWriteMBps} MB/s), ` +
        `restored ${figures.restoredMiB} MiB during the reduce at ${s.restore_mb_per_s} MB/s = ${Math.round(figures.restoreOfRaw * 100)}% of the raw read (${figures.rawDiskReadMBps} MB/s; the reads share 2 cores with the reduce's compute) (targets: ratio at most 2x, both at least 50%); ` +
        `read back through GET /v1/objects: ${figures.readBackMBps} MB/s from disk, ${figures.readBackUnbudgetedMBps} MB/s from Redis (${budgeted.cold ? 'page cache dropped before every read' : 'from the page cache: no root to drop it'}); raw disk measured before and after the graphs, the faster kept; results checked`,
    );
    return figures;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
