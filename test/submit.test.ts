/**
 * Submitting a graph without HTTP (src/queue/submit.ts): the submitter is
 * built on a real Redis with no API and no worker (graphs stay queued, so
 * they count as in flight). Refused graphs never call the presubmit hook;
 * a submission plans its graph once and computes fingerprints once, however
 * many of its values the cache and the hook know.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
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
import { graphKeys } from '../src/queue/keys.ts';
import { ObjectStore } from '../src/queue/objects.ts';
import type { ScriptedRedis } from '../src/queue/scripts.ts';
import { GraphSubmitter, SubmissionError, type GraphRequest } from '../src/queue/submit.ts';
import { Webhooks } from '../src/queue/webhooks.ts';
import { OpCatalog } from '../src/queue/workers.ts';
import { SpillFiles } from '../src/store/spill.ts';
import { freePort } from './helpers/redis.ts';

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
let hook: Server;
let hookUrl: string;
/** The presubmit requests the hook got, and what it answers: key -> value. */
const asked: { key: string }[][] = [];
let answers: Record<string, unknown> = {};

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
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      asked.push(JSON.parse(body).tasks);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ values: answers }));
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => hook.listen(port, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  hook?.close();
  finished?.close();
  await queue?.close();
  await webhooks?.close();
  redis?.disconnect();
});
beforeEach(() => {
  asked.length = 0;
  answers = {};
});

const inc = (ref: string) => ({ $op: 'inc', args: [{ $ref: ref }] });
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
    const entries = await redis.xrange(graphKeys(config.prefix, id).events, '-', '+');
    const all = entries.map(([, f]) => f).find((f) => f[f.indexOf('t') + 1] === 'postsubmit_all')!;
    expect(JSON.parse(all[all.indexOf('d') + 1])).toMatchObject({
      tasks: 1,
      cache_hits: 0,
      cache_misses: 3,
      presubmitted: 1,
    });
  });
});
