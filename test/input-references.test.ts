/**
 * Large inputs by reference: the start scripts return inputs over the store's
 * `inlinemax` as a reference instead of copying them through Lua, and the
 * worker reads them with HGET (TaskState.fetchReferenced). On a real Redis
 * with the real scripts: small inputs come inline, large ones by reference
 * and read back byte for byte, one spilled in between comes back as its
 * stub and location, a lost one as null, and the reply budget still counts
 * a reference's full size.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphKeys } from '../src/queue/keys.ts';
import { withScripts, type ScriptedRedis } from '../src/queue/scripts.ts';
import { encodeSpec } from '../src/queue/spec.ts';
import { TaskState } from '../src/queue/tasks.ts';
import { parseInputReference, SPILL_STUB, storedForm } from '../src/store/stored-bytes.ts';
import { startRedis, type TestRedis } from './helpers/redis.ts';

const PREFIX = 'refs';
const INLINE_MAX = 1000;
let server: TestRedis;
let redis: ScriptedRedis;
let tasks: TaskState;

beforeAll(async () => {
  server = await startRedis();
  redis = withScripts(new Redis(server.url));
  tasks = new TaskState(redis, PREFIX);
  await redis.hset(`${PREFIX}:store`, 'spillmin', 100, 'inlinemax', INLINE_MAX);
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

/** A running graph whose task 9 reads nodes 0..n-1, with the given values stored for them (marked `big`, as completeTasks marks a graph that stored a large value). */
async function graphWith(graph: string, values: (Buffer | null)[], big = true): Promise<void> {
  const k = graphKeys(PREFIX, graph);
  await redis.hset(k.meta, 'status', 'running');
  if (big) await redis.hset(k.meta, 'big', 1);
  const deps = values.map((_, i) => i);
  await redis.hset(
    k.spec,
    '9',
    encodeSpec({
      key: 'sink',
      deps,
      outs: [],
      template: { $op: 'list', args: deps.map((i) => ({ $slot: i })) } as never,
    }),
  );
  for (const [i, v] of values.entries()) if (v) await redis.hset(k.vals, String(i), v);
}

describe('inputs by reference', () => {
  it('small inputs come inline, large ones by reference, and the worker reads them back exactly', async () => {
    const small = Buffer.alloc(INLINE_MAX, 1);
    const large = Buffer.alloc(INLINE_MAX + 1, 2);
    const huge = Buffer.alloc(3 * 1024 * 1024, 3);
    await graphWith('g1', [small, large, huge, null]);
    await redis.zadd(`${PREFIX}:lru`, 0, 'g1.2');
    const started = await tasks.start('g1', [9], { worker: 'w', attempt: 1 });
    expect(started.run).toHaveLength(1);
    const [task] = started.run;
    expect(task.inputs[0]!.equals(small)).toBe(true);
    expect(parseInputReference(task.inputs[1]!)).toEqual({ field: '1', key: graphKeys(PREFIX, 'g1').vals });
    expect(parseInputReference(task.inputs[2]!)).toEqual({ field: '2', key: graphKeys(PREFIX, 'g1').vals });
    // A reference is not a spilled value.
    expect(storedForm(task.inputs[1])).toBe('reference');
    expect(task.inputs[3]).toBeNull();
    await tasks.fetchReferenced([task]);
    expect(task.inputs[1]!.equals(large)).toBe(true);
    expect(task.inputs[2]!.equals(huge)).toBe(true);
    expect(task.inputs[0]!.equals(small)).toBe(true);
    // Passed by reference, a value is still used: its last use moves on, so it is not spilled first.
    expect(Number(await redis.zscore(`${PREFIX}:lru`, 'g1.2'))).toBeGreaterThan(Date.now() - 60_000);
  });

  it('a referenced value spilled before the worker reads it comes back as its stub and location; a lost one as null', async () => {
    const large = Buffer.alloc(5000, 4);
    await graphWith('g2', [large, large]);
    const [task] = (await tasks.start('g2', [9], { worker: 'w', attempt: 1 })).run;
    expect(task.inputs.every((v) => v && parseInputReference(v))).toBe(true);
    // Between the start and the read: input 0 is swapped for a stub (as spillObjects does), input 1 is deleted.
    const k = graphKeys(PREFIX, 'g2');
    await redis.hset(k.vals, '0', Buffer.from([SPILL_STUB]));
    await redis.hset(`${k.vals.slice(0, -4)}spilled`, '0', 'file-a.spill:64:5000');
    await redis.hdel(k.vals, '1');
    await tasks.fetchReferenced([task]);
    expect(storedForm(task.inputs[0])).toBe('spilled');
    expect(task.inputs[0]!.subarray(1).toString()).toBe('file-a.spill:64:5000');
    expect(task.inputs[1]).toBeNull();
  });

  it('the reply budget counts a reference at its value size, so big inputs still defer the rest of a bundle', async () => {
    const eightMiB = Buffer.alloc(8 * 1024 * 1024, 5);
    const k = graphKeys(PREFIX, 'g3');
    await redis.hset(k.meta, 'status', 'running', 'big', 1);
    await redis.hset(k.vals, '0', eightMiB);
    for (const t of [10, 11])
      await redis.hset(
        k.spec,
        String(t),
        encodeSpec({ key: `t${t}`, deps: [0], outs: [], template: { $slot: 0 } as never }),
      );
    const started = await tasks.start('g3', [10, 11], { worker: 'w', attempt: 1 });
    expect(started.run.map((t) => t.index)).toEqual([10]);
    expect(started.deferred).toEqual([11]);
  });

  it('a graph that never stored a large value is not checked: its inputs come inline (no length check per input)', async () => {
    const large = Buffer.alloc(50_000, 7);
    await graphWith('g5', [large], false);
    const [task] = (await tasks.start('g5', [9], { worker: 'w', attempt: 1 })).run;
    expect(task.inputs[0]!.equals(large)).toBe(true);
  });

  it('with no inlinemax (workers of before) every input comes inline', async () => {
    await redis.hdel(`${PREFIX}:store`, 'inlinemax');
    try {
      const large = Buffer.alloc(50_000, 6);
      await graphWith('g4', [large]);
      const [task] = (await tasks.start('g4', [9], { worker: 'w', attempt: 1 })).run;
      expect(task.inputs[0]!.equals(large)).toBe(true);
    } finally {
      await redis.hset(`${PREFIX}:store`, 'inlinemax', INLINE_MAX);
    }
  });
});
