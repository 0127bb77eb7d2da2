/**
 * Values known before a graph runs: the result cache (options.cache) and the
 * presubmit hook. Task bodies are counted by an op that writes to a file.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers/redis.ts';
import { startWeft, type Weft } from './helpers/weft.ts';

const countFile = join(mkdtempSync(join(tmpdir(), 'weft-known-')), 'runs.txt');
let weft: Weft;
let hook: Server;
let hookUrl: string;
let hookAnswer: (tasks: { key: string; op: string; fingerprint: string }[]) => Record<string, unknown> = () => ({});
const asked: { key: string; op: string; fingerprint: string }[][] = [];

beforeAll(async () => {
  weft = await startWeft({
    workers: 1,
    env: { WEFT_OPS: 'test/fixtures/ops/counting.ts', WEFT_TEST_COUNT_FILE: countFile },
  });
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const { tasks } = JSON.parse(body);
      asked.push(tasks);
      if (req.url === '/broken') return void res.writeHead(500).end();
      if (req.url === '/slow') return void setTimeout(() => res.writeHead(200).end('{}'), 3000);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ values: hookAnswer(tasks) }));
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => hook.listen(port, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  await weft?.close();
  hook?.close();
});

const runs = (label: string) =>
  existsSync(countFile)
    ? readFileSync(countFile, 'utf8')
        .split('\n')
        .filter((l) => l === label).length
    : 0;
const ones = (label: string, n = 3) => ({ $op: 'test.ones', args: [n, label] });

describe('result cache', () => {
  it('a second identical graph reuses the result: the task body does not run again; hits and misses are counted', async () => {
    const graph = { x: ones('cached'), total: { $op: 'sum', args: [{ $ref: 'x' }] } };
    const first = await weft.compute(graph, 'total', { options: { cache: true, optimize: { fuse: false } } });
    expect(first.result).toBe(3);
    expect(runs('cached')).toBe(1);
    const second = await weft.compute({ a: ones('cached'), b: { $op: 'sum', args: [{ $ref: 'a' }] } }, 'b', {
      options: { cache: true, optimize: { fuse: false } },
    });
    expect(second.result).toBe(3);
    expect(runs('cached')).toBe(1);
    const events = ((await (await fetch(`${weft.url}/v1/graphs/${second.id}/events`)).json()) as any).events;
    expect(events.find((e: { type: string }) => e.type === 'postsubmit_all')).toMatchObject({
      cache_hits: 2,
      cache_misses: 0,
      tasks: 0,
    });
    const stats = (await (await fetch(`${weft.url}/v1/stats`)).json()) as any;
    expect(stats.cache.hits).toBeGreaterThanOrEqual(1);
    expect(stats.cache.misses).toBeGreaterThanOrEqual(2);
  });

  it('without options.cache, or with other inputs, it runs', async () => {
    await weft.compute({ x: ones('uncached') }, 'x', { options: { cache: true } });
    await weft.compute({ x: ones('uncached') }, 'x');
    await weft.compute({ x: ones('uncached', 4) }, 'x', { options: { cache: true } });
    expect(runs('uncached')).toBe(3);
  });

  it('a non-deterministic op is never cached', async () => {
    const g = { x: { $op: 'fail', args: ['boom'] } };
    await weft.compute(g, 'x', { options: { cache: true } });
    const again = await weft.compute(g, 'x', { options: { cache: true } });
    expect(again.status).toBe('failed');
  });
});

describe('presubmit', () => {
  it('a value from the hook replaces the task (it never runs, no postsubmit for it); null runs it', async () => {
    hookAnswer = (tasks) => Object.fromEntries(tasks.map((t) => [t.key, t.key === 'replaced' ? [7, 7] : null]));
    const graph = {
      replaced: ones('presubmit-replaced'),
      kept: ones('presubmit-kept'),
      out: { $op: 'concat', args: [[{ $ref: 'replaced' }, { $ref: 'kept' }]] },
    };
    const res = await weft.compute(graph, 'out', {
      presubmit: { url: `${hookUrl}/answer` },
      options: { optimize: { fuse: false } },
    });
    expect(res.result).toEqual([7, 7, 1, 1, 1]);
    expect(runs('presubmit-replaced')).toBe(0);
    expect(runs('presubmit-kept')).toBe(1);
    const call = asked.at(-1)!;
    expect(call.map((t) => t.key).sort()).toEqual(['kept', 'out', 'replaced']);
    expect(call.find((t) => t.key === 'kept')).toMatchObject({
      op: 'test.ones',
      fingerprint: expect.stringMatching(/^[0-9a-f]{28}$/),
    });
    const events = ((await (await fetch(`${weft.url}/v1/graphs/${res.id}/events`)).json()) as any).events;
    expect(events.filter((e: { key?: string }) => e.key === 'replaced')).toEqual([]);
    expect(events.find((e: { type: string }) => e.type === 'postsubmit_all')).toMatchObject({ presubmitted: 1 });
  });

  it('a hook that fails or times out is no answer, never a failed graph', async () => {
    for (const path of ['/broken', '/slow']) {
      const res = await weft.compute({ x: ones('presubmit-fallback') }, 'x', {
        presubmit: { url: `${hookUrl}${path}`, timeout_ms: 500 },
      });
      expect(res.status).toBe('done');
      expect(res.result).toEqual([1, 1, 1]);
    }
    expect(runs('presubmit-fallback')).toBe(2);
  });
});
