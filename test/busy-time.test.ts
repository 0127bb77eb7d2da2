/**
 * Spill and restore throughput is bytes over busy time: the union of the
 * periods during which some worker was spilling (restoring), so time two
 * workers spend side by side counts once. The periods are merged in each
 * process (BusyPeriods) and across processes (addBusyTime-2.lua, on a real
 * Redis).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addBusyTime } from '../src/queue/scripts/addBusyTime.ts';
import { withScripts, type ScriptedRedis } from '../src/queue/scripts.ts';
import { BusyPeriods, busyLength, epochNow, mergePeriods } from '../src/store/busy-time.ts';
import { startRedis, type TestRedis } from './helpers/redis.ts';

describe('busy periods in one process', () => {
  it('merges overlapping and touching periods, keeps gaps, and counts bytes', () => {
    const b = new BusyPeriods();
    b.add(10, 20, 5);
    b.add(15, 30, 5); // overlaps
    b.add(30, 35); // touches
    b.add(40, 50, 1); // a gap before it
    b.add(5, 12); // late, overlapping the first
    b.add(60, 60, 3); // empty: bytes count, time does not
    expect(b.take()).toEqual({ periods: [5, 35, 40, 50], bytes: 14 });
    expect(b.take()).toEqual({ periods: [], bytes: 0 });
  });

  it('the union of periods in any order', () => {
    expect(
      mergePeriods([
        [3, 4],
        [0, 1],
        [0.5, 2],
        [2, 2.5],
      ]),
    ).toEqual([
      [0, 2.5],
      [3, 4],
    ]);
    expect(
      busyLength([
        [0, 10],
        [2, 3],
        [9, 12],
        [20, 21],
      ]),
    ).toBe(13);
    expect(busyLength([])).toBe(0);
  });

  it('epochNow is epoch milliseconds with sub-millisecond precision', () => {
    const a = epochNow();
    expect(Math.abs(a - Date.now())).toBeLessThan(50);
    expect(epochNow()).toBeGreaterThanOrEqual(a);
  });
});

describe('busy time across processes (addBusyTime-2.lua)', () => {
  let server: TestRedis;
  let redis: ScriptedRedis;
  beforeAll(async () => {
    server = await startRedis();
    redis = withScripts(new Redis(server.url));
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  const total = async (prefix: string) => Number(await redis.hget(`${prefix}:stats`, 'spill_ms_total'));

  it('counts time during which several workers were busy once, whatever the order of their reports', async () => {
    const t = Date.now();
    // Worker A, then worker B overlapping A's first and bridging to its second, then C inside what is counted.
    const a = [t, t + 100, t + 200, t + 300];
    const b = [t + 50, t + 250];
    const c = [t + 10, t + 20, t + 400, t + 410];
    await addBusyTime(redis, 'x', 'spill', a);
    expect(await total('x')).toBeCloseTo(200, 3);
    await addBusyTime(redis, 'x', 'spill', b);
    expect(await total('x')).toBeCloseTo(300, 3);
    await addBusyTime(redis, 'x', 'spill', c);
    const union = busyLength([
      [a[0], a[1]],
      [a[2], a[3]],
      [b[0], b[1]],
      [c[0], c[1]],
      [c[2], c[3]],
    ]);
    expect(union).toBeCloseTo(310, 3);
    expect(await total('x')).toBeCloseTo(union, 3);
    // Kept as disjoint periods: [t, t+300] and [t+400, t+410].
    expect(await redis.zcard('x:busy:spill')).toBe(2);
  });

  it('matches the union of many random periods reported by several workers in batches', async () => {
    const t = Date.now();
    const all: [number, number][] = [];
    let seed = 7;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    for (let worker = 0; worker < 4; worker++) {
      // Each worker's own periods are disjoint and in order, as BusyPeriods gives them.
      let at = t + random() * 50;
      const own: number[] = [];
      for (let i = 0; i < 200; i++) {
        const start = at + random() * 20;
        const end = start + random() * 30;
        own.push(start, end);
        all.push([start, end]);
        at = end;
      }
      for (let i = 0; i < own.length; i += 40) await addBusyTime(redis, 'y', 'spill', own.slice(i, i + 40));
    }
    expect(await total('y')).toBeCloseTo(busyLength(all), 0);
  });

  it('forgets periods older than a minute (their time stays counted)', async () => {
    const old = Date.now() - 120_000;
    await addBusyTime(redis, 'z', 'spill', [old, old + 5]);
    expect(await total('z')).toBeCloseTo(5, 3);
    expect(await redis.zcard('z:busy:spill')).toBe(0);
  });
});
