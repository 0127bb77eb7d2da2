/**
 * Submitting a graph without HTTP (src/queue/submit.ts): the submitter is
 * built on a real Redis with no API and no worker (graphs stay queued, so
 * they count as in flight). Refused graphs never call the presubmit hook;
 * a submission plans its graph once and computes fingerprints once, however
 * many of its values the cache and the hook know; the hook's requests (one
 * per 1,000 tasks) are in flight together, and the whole phase has one
 * deadline however many there are.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it, vi } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { fingerprints } from '../src/graph/fingerprint.ts';
import { planGraph } from '../src/graph/plan.ts';
import { standardOps } from '../src/ops/index.ts';
import { connect } from '../src/queue/connection.ts';
import { TaskQueue } from '../src/queue/dispatch.ts';
import { FinishWatcher } from '../src/queue/finished.ts';
import { GraphStore } from '../src/queue/graphs.ts';
import { activeKey, graphKeys, graphsKey, statsKey } from '../src/queue/keys.ts';
import { PRESUBMIT_CONCURRENCY } from '../src/queue/known.ts';
import { startTasks } from '../src/queue/scripts/startTasks.ts';
import { ObjectStore } from '../src/queue/objects.ts';
import type { ScriptedRedis } from '../src/queue/scripts.ts';
import { GraphSubmitter, SubmissionError, type GraphRequest } from '../src/queue/submit.ts';
import { Webhooks } from '../src/queue/webhooks.ts';
import { OpCatalog } from '../src/queue/workers.ts';
import { SpillFiles } from '../src/store/spill.ts';
import { freePort } from './helpers/redis.ts';
import { inFlightKey } from '../src/queue/keys.ts';

// Counted, not changed: how often a submission plans and fingerprints.
vi.mock('../src/graph/plan.ts', async (original) => {
  const real = await original<typeof import('../src/graph/plan.ts')>();
  return { ...real, planGraph: vi.fn(real.planGraph) };
});
vi.mock('../src/graph/fingerprint.ts', async (original) => {
  const real = await original<typeof import('../src/graph/fingerprint.ts')>();
  return { ...real, fingerprints: vi.fn(real.fingerprints) };
});

const config = loadConfig({
  REDIS_URL: inject('redisUrl'),
  WEFT_PREFIX: `u${randomBytes(4).toString('hex')}`,
  WEFT_MAX_GRAPHS_IN_FLIGHT: '2',
  WEFT_ALLOW_PRIVATE_WEBHOOKS: '1',
});
let redis: ScriptedRedis;
let queue: TaskQueue;
let finished: FinishWatcher;
let webhooks: Webhooks;
let submitter: GraphSubmitter;
/** A submitter that takes graphs of at most 2 tasks (WEFT_MAX_TASKS). */
let smallSubmitter: GraphSubmitter;
let hook: Server;
let hookUrl: string;
/** The presubmit requests the hook got, and what it answers: key -> value. */
const asked: { key: string }[][] = [];
let answers: Record<string, unknown> = {};
/** When each presubmit request arrived (ms since the epoch). */
const arrivals: number[] = [];

/**
 * The hook at /batches answers nothing until `batch` requests are waiting
 * (or all that remain of `expected`), then answers them all, each task with
 * 0: a submission asking one request at a time never gets an answer, and
 * `mostAtOnce` is the concurrency the hook saw.
 */
const batches = { expected: 0, batch: 0, answered: 0, mostAtOnce: 0 };
let held: { tasks: { key: string }[]; res: ServerResponse }[] = [];
function holdForBatch(tasks: { key: string }[], res: ServerResponse): void {
  const request = { tasks, res };
  held.push(request);
  // A request given up on (timed out) is not waiting any more.
  res.on('close', () => {
    held = held.filter((h) => h !== request);
  });
  batches.mostAtOnce = Math.max(batches.mostAtOnce, held.length);
  if (held.length < Math.min(batches.batch, batches.expected - batches.answered)) return;
  for (const h of held) {
    const values = Object.fromEntries(h.tasks.map((t) => [t.key, 0]));
    h.res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ values }));
  }
  batches.answered += held.length;
  held = [];
}

beforeAll(async () => {
  redis = connect(config.redisUrl, 'submit-test');
  queue = new TaskQueue(redis, config.prefix, config);
  finished = new FinishWatcher(connect(config.redisUrl, 'submit-test-sub'), config.prefix);
  webhooks = new Webhooks(redis, config.prefix, redis);
  const objects = new ObjectStore(redis, config.prefix, new SpillFiles(mkdtempSync(join(tmpdir(), 'weft-submit-'))));
  const graphs = new GraphStore(redis, config.prefix, queue, objects);
  const ops = new OpCatalog(redis, config.prefix, standardOps);
  await finished.ready;
  submitter = new GraphSubmitter({ config, redis, graphs, objects, ops, webhooks, finished });
  const small = { ...config, maxTasks: 2 };
  smallSubmitter = new GraphSubmitter({ config: small, redis, graphs, objects, ops, webhooks, finished });
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const tasks: { key: string }[] = JSON.parse(body).tasks;
      asked.push(tasks);
      arrivals.push(Date.now());
      if (req.url === '/never') return;
      if (req.url === '/batches') return holdForBatch(tasks, res);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ values: answers }));
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => hook.listen(port, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  hook?.closeAllConnections();
  hook?.close();
  finished?.close();
  await queue?.close();
  await webhooks?.close();
  redis?.disconnect();
});
beforeEach(() => {
  asked.length = 0;
  arrivals.length = 0;
  answers = {};
});

const inc = (ref: string) => ({ $op: 'inc', args: [{ $ref: ref }] });
/** A graph of `n` independent tasks, all requested. */
const wide = (n: number): GraphRequest => {
  const keys = Array.from({ length: n }, (_, i) => `t${i}`);
  return { graph: Object.fromEntries(keys.map((k, i) => [k, { $op: 'inc', args: [i] }])), keys } as GraphRequest;
};

/** The postsubmit_all event of a registered graph. */
async function postsubmitAll(id: string): Promise<Record<string, number>> {
  const entries = await redis.xrange(graphKeys(config.prefix, id).events, '-', '+');
  const all = entries.map(([, f]) => f).find((f) => f[f.indexOf('t') + 1] === 'postsubmit_all')!;
  return JSON.parse(all[all.indexOf('d') + 1]);
}
const alice = { tenant: 'alice' };

/** The error a submission is refused with. */
async function refusal(request: { tenant: string }, body: GraphRequest): Promise<SubmissionError> {
  const err = await submitter.submit(request, body).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SubmissionError);
  return err as SubmissionError;
}

describe("the API's rehearsal", () => {
  it('plans its 20,000-task graph whatever WEFT_MAX_TASKS says, and writes nothing', async () => {
    // A graph's keys and the task queue's (the webhooks' own meta is written at start, whenever).
    const keys = async () =>
      [...(await redis.keys(`${config.prefix}:{*`)), ...(await redis.keys(`${config.prefix}:tasks*`))].sort();
    const before = await keys();
    expect(() => smallSubmitter.rehearse()).not.toThrow();
    expect(await keys()).toEqual(before);
  });
});

describe('GraphSubmitter', () => {
  it('registers a graph: its futures come back, its tasks wait in the queue', async () => {
    const { id, outputs } = await submitter.submit(alice, {
      graph: { x: 1, y: inc('x') },
      keys: ['y'],
    } as GraphRequest);
    expect(outputs).toEqual([{ $oid: `${id}.1` }]);
    expect(await redis.hmget(graphKeys(config.prefix, id).meta, 'status', 'total', 'tenant')).toEqual([
      'queued',
      '1',
      'alice',
    ]);
  });

  it('a graph using an object that does not exist is refused before the presubmit hook is called', async () => {
    const err = await refusal({ tenant: 'bob' }, {
      graph: { y: { $op: 'inc', args: [{ $oid: 'nope.0' }] } },
      keys: 'y',
      presubmit: { url: hookUrl },
    } as GraphRequest);
    expect(err.code).toBe('unknown_object');
    expect(err.details).toEqual({ objects: ['nope.0'] });
    expect(asked).toEqual([]);
  });

  it('a graph over its tenant’s limit is refused before the presubmit hook is called', async () => {
    const carol = { tenant: 'carol' };
    for (let i = 0; i < 2; i++)
      await submitter.submit(carol, { graph: { a: inc('b'), b: i }, keys: 'a' } as GraphRequest);
    const err = await refusal(carol, {
      graph: { x: 1, y: inc('x') },
      keys: 'y',
      presubmit: { url: hookUrl },
    } as GraphRequest);
    expect(err.code).toBe('too_many_graphs');
    expect(asked).toEqual([]);
  });

  it('a graph refused for room by its registration (one chunk, or several) leaves no key, listing or count, and its job runs nothing', async () => {
    const hank = { tenant: 'hank' };
    // No worker runs here: these two stay queued, so hank is at the limit (2).
    const admitted: string[] = [];
    for (let i = 0; i < 2; i++)
      admitted.push((await submitter.submit(hank, { graph: { a: inc('b'), b: i }, keys: 'a' } as GraphRequest)).id);
    const graphIds = async () => {
      const ids = new Set<string>();
      for (const key of await redis.keys(`${config.prefix}:{*}:*`))
        ids.add(key.slice(key.indexOf('{') + 1, key.indexOf('}')));
      return ids;
    };
    const before = {
      ids: await graphIds(),
      listed: await redis.zcard(graphsKey(config.prefix)),
      active: await redis.zcard(activeKey(config.prefix)),
      submitted: await redis.hget(statsKey(config.prefix), 'graphs_submitted'),
      jobs: await queue.queue().count(),
    };
    // One chunk: admitted by openGraph in the registration's own round trip, its job sent with it.
    expect((await refusal(hank, { graph: { x: 1, y: inc('x') }, keys: 'y' } as GraphRequest)).code).toBe(
      'too_many_graphs',
    );
    // Several chunks: admitted before any is written.
    expect((await refusal(hank, wide(6000))).code).toBe('too_many_graphs');
    expect(await graphIds()).toEqual(before.ids);
    expect(await redis.zcard(graphsKey(config.prefix))).toBe(before.listed);
    expect(await redis.zcard(activeKey(config.prefix))).toBe(before.active);
    expect(await redis.hget(statsKey(config.prefix), 'graphs_submitted')).toBe(before.submitted);
    expect((await redis.smembers(inFlightKey(config.prefix, 'hank'))).sort()).toEqual(admitted.sort());
    // The one-chunk graph's job went out with its registration; a worker taking it finds no graph.
    expect(await queue.queue().count()).toBe(before.jobs + 1);
    const jobs = await queue.queue().getJobs(['prioritized', 'waiting']);
    const orphan = jobs.find((job) => !before.ids.has(job.data.g))!;
    const start = { graph: orphan.data.g, tasks: orphan.data.t, tag: 0, maxBytes: 1 << 20 };
    const started = await startTasks(redis, config.prefix, { ...start, runner: { worker: 'w', attempt: 1 } });
    expect(started.status).toBe('missing');
    expect(await graphIds()).toEqual(before.ids);
  });

  it('a graph of data alone takes no place among its tenant’s graphs in flight: at the limit it is still answered', async () => {
    const gwen = { tenant: 'gwen' };
    // No worker runs here: these two stay queued, so gwen is at the limit (2).
    for (let i = 0; i < 2; i++)
      await submitter.submit(gwen, { graph: { a: inc('b'), b: i }, keys: 'a' } as GraphRequest);
    expect((await refusal(gwen, { graph: { y: inc('x'), x: 1 }, keys: 'y' } as GraphRequest)).code).toBe(
      'too_many_graphs',
    );
    const data = await submitter.submit(gwen, { graph: { x: 7 }, keys: 'x', wait: 5 } as GraphRequest);
    expect(data.doneValues).toHaveLength(1);
    expect(await redis.smembers(inFlightKey(config.prefix, 'gwen'))).not.toContain(data.id);
  });

  it('a graph refused for what it is (shape, keys, cycle, op, size, options) never calls the presubmit hook', async () => {
    const presubmit = { url: hookUrl, timeout_ms: 2000 };
    const refused: [string, GraphRequest, GraphSubmitter?][] = [
      ['invalid_request', { graph: { x: 1 }, layers: {}, keys: 'x' } as unknown as GraphRequest],
      ['missing_dependency', { graph: { y: inc('x') }, keys: 'y' } as GraphRequest],
      ['cycle', { graph: { a: inc('b'), b: inc('a') }, keys: 'a' } as GraphRequest],
      ['unknown_op', { graph: { y: { $op: 'no.such.op', args: [] } }, keys: 'y' } as GraphRequest],
      ['invalid_request', { graph: { x: 1, y: inc('x') }, keys: 'y', persist: true, wait: 1 } as GraphRequest],
      ['too_many_tasks', wide(3), smallSubmitter],
    ];
    for (const [code, body, by = submitter] of refused) {
      const err = await by.submit({ tenant: 'gina' }, { ...body, presubmit }).then(
        () => undefined,
        (e: { code?: string }) => e,
      );
      expect(err?.code).toBe(code);
    }
    expect(asked).toEqual([]);
  });

  it('plans once and fingerprints once, with the cache and the hook both answering', async () => {
    const graph = { x: 1, a: inc('x'), b: inc('a'), c: inc('b') };
    const options = { cache: true, optimize: { fuse: false } } as GraphRequest['options'];
    // Nothing is in the cache yet (no worker ran this graph); the hook knows b.
    answers = { b: 41 };
    vi.mocked(planGraph).mockClear();
    vi.mocked(fingerprints).mockClear();
    const dave = { tenant: 'dave' };
    const { id } = await submitter.submit(dave, {
      graph,
      keys: 'c',
      options,
      presubmit: { url: hookUrl },
    } as GraphRequest);
    expect(vi.mocked(planGraph)).toHaveBeenCalledTimes(1);
    expect(vi.mocked(fingerprints)).toHaveBeenCalledTimes(1);
    expect(asked.flat().map((t) => t.key)).toEqual(['a', 'b', 'c']);
    // b is known, so a and x are dropped: only c runs, on b's value.
    const meta = graphKeys(config.prefix, id).meta;
    expect(await redis.hget(meta, 'total')).toBe('1');
    expect(await postsubmitAll(id)).toMatchObject({
      tasks: 1,
      cache_hits: 0,
      cache_misses: 3,
      presubmitted: 1,
    });
  });

  it('asks the hook about all chunks at once, 8 at a time: a hook that answers only 8 waiting requests answers all 9', async () => {
    // 8,001 tasks: 9 requests. Asked one at a time, each would wait out its timeout unanswered.
    expect(PRESUBMIT_CONCURRENCY).toBe(8);
    Object.assign(batches, { expected: 9, batch: 8, answered: 0, mostAtOnce: 0 });
    const { id } = await submitter.submit(
      { tenant: 'erin' },
      {
        ...wide(8001),
        presubmit: { url: `${hookUrl}/batches`, timeout_ms: 4000 },
      },
    );
    expect(asked.length).toBe(9);
    expect(batches.mostAtOnce).toBe(8);
    expect(await postsubmitAll(id)).toMatchObject({ tasks: 0, presubmitted: 8001 });
  });

  it('bounds the presubmit phase by one deadline: 4 requests that are never answered hold it once, not 4 times', async () => {
    const deadline = 1000;
    const { id } = await submitter.submit(
      { tenant: 'frank' },
      {
        ...wide(3001),
        presubmit: { url: `${hookUrl}/never`, timeout_ms: deadline },
      },
    );
    const returned = Date.now();
    // Every request arrived before the first could time out: they were in flight together.
    expect(asked.map((tasks) => tasks.length).sort()).toEqual([1, 1000, 1000, 1000]);
    expect(arrivals[3] - arrivals[0]).toBeLessThan(deadline);
    // One deadline and registering 3,001 tasks after it; in sequence it would be 3 deadlines more.
    expect(returned - arrivals[0]).toBeLessThan(2 * deadline);
    // As before, a hook that does not answer in time answers nothing: every task runs.
    expect(await postsubmitAll(id)).toMatchObject({ tasks: 3001, presubmitted: 0 });
  });
});
