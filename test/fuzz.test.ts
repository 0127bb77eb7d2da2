/**
 * Property-based tests of POST /v1/graphs (fast-check), against the real API
 * and a worker process:
 *   - random valid graphs give what a reference evaluator written here gives
 *     (fused or not, from the result cache or not, on op threads or not);
 *   - random malformed requests get a 4xx with a catalogued code, never a
 *     5xx, a crash or a graph that never ends;
 *   - special keys are ordinary keys, or rejected with a clear code.
 * Runs are bounded and seeded (FUZZ_SEED to change the seed, FUZZ_RUNS the
 * count); a failure prints the seed and the path that reproduce it.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCatalogue } from '../src/api/errors.ts';
import {
  drawGraph,
  record,
  referenceResult,
  SPECIAL_KEYS,
  toJson,
  viaJson,
  type Entries,
  type StoredObject,
} from './helpers/graph-gen.ts';
import { startWeft, type Weft } from './helpers/weft.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20250509);
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
const MAX_KEY_BYTES = 1024;
/** Shrinking a failure stops after a while: the counterexample found by then is reported. */
const bounded = { seed: SEED, numRuns: RUNS, interruptAfterTimeLimit: 40_000, markInterruptAsFailure: true };

let weft: Weft;
beforeAll(async () => {
  weft = await startWeft({ workers: 1, env: { WEFT_MAX_TASKS: '500', WEFT_BODY_LIMIT: String(1 << 20) } });
});
afterAll(() => weft?.close());

async function post(
  body: string,
  contentType: string | null = 'application/json',
): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(`${weft.url}/v1/graphs`, {
    method: 'POST',
    headers: contentType === null ? {} : { 'content-type': contentType },
    body,
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`HTTP ${res.status} answered with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  return { status: res.status, body: parsed, text };
}

/** The invariants of any answer: a catalogued error, or a graph that ended within its wait. */
function expectWellFormedAnswer(res: { status: number; body: any; text: string }, what: string): void {
  const context = `${what}\n-> HTTP ${res.status} ${res.text.slice(0, 400)}`;
  expect(res.status, context).toBeLessThan(500);
  if (res.status >= 400) {
    const code = res.body?.error?.code;
    expect(Object.keys(errorCatalogue), context).toContain(code);
    expect(errorCatalogue[code as keyof typeof errorCatalogue].status, context).toBe(res.status);
    expect(String(res.body.error.message).length, context).toBeGreaterThan(10);
  } else {
    expect(res.status, context).toBe(200);
    expect(['done', 'failed'], context).toContain(res.body.status);
  }
}

async function expectServiceHealthy(): Promise<void> {
  const health = (await (await fetch(`${weft.url}/healthz`)).json()) as any;
  expect(health).toMatchObject({ ok: true, redis: true, workers: 1 });
  for (const w of weft.workers) expect(w.exitCode).toBeNull();
}

/** Stored values graphs may use as {"$oid"} inputs. */
async function storeObjects(values: unknown[]): Promise<StoredObject[]> {
  const out: StoredObject[] = [];
  for (const value of values) {
    const res = await fetch(`${weft.url}/v1/objects`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(value),
    });
    expect(res.status).toBe(201);
    out.push({ oid: ((await res.json()) as { $oid: string }).$oid, value });
  }
  return out;
}

describe('random valid graphs', () => {
  it('give the result of the reference evaluator, shaped like the requested keys', async () => {
    const objects = await storeObjects([5, -3, [1, 2, 3], [], [7]]);
    await fc.assert(
      fc.asyncProperty(fc.gen(), fc.boolean(), fc.boolean(), fc.boolean(), async (g, fuse, cache, onThreads) => {
        const { graph, keys } = drawGraph(g, objects);
        // With the cache on, equal tasks of earlier runs answer from the cache: their results must be right too.
        // Tasks with a timeout run on op threads: their templates and values cross a thread boundary.
        const options = { optimize: { fuse }, cache, ...(onThreads ? { task_timeout_ms: 30_000 } : {}) };
        const res = await post(JSON.stringify({ graph: toJson(graph), keys, wait: 30, options }));
        expect(res.status, res.text.slice(0, 400)).toBe(200);
        expect(res.body.status, res.text.slice(0, 400)).toBe('done');
        expect(res.body.result).toEqual(viaJson(referenceResult(graph, keys, objects)));
      }),
      bounded,
    );
  });
});

/** Nodes that are wrong in one way each. */
const badNodes: unknown[] = [
  { $op: 5 },
  { $op: '' },
  { $op: 'inc', args: 'x' },
  { $op: 'inc', kwargs: [1] },
  { $op: 'inc', args: [1], extra: true },
  { $op: 'inc', args: [{ $op: 'range', args: [3], returns: 3 }] },
  { $op: 'range', args: [3], returns: 0 },
  { $op: 'range', args: [3], returns: 1.5 },
  { $op: 'no.such.op', args: [] },
  { $ref: 5 },
  { $ref: 'x', index: -1 },
  { $ref: 'x', index: 'first' },
  { $ref: 'x', extra: 1 },
  { $ref: 'missing-key' },
  { $oid: '' },
  { $oid: 7 },
  { $oid: 'no-such-object.0' },
  { $literal: 1, more: 2 },
  { $what: 1 },
  { a: 1, $b: 2 },
  { $: 1 },
];

/** Wraps a node in `depth` levels of arrays, objects, tasks or a $literal of nested arrays. */
function nested(kind: number, depth: number, inner: string): string {
  switch (kind) {
    case 0:
      return '['.repeat(depth) + inner + ']'.repeat(depth);
    case 1:
      return '{"a":'.repeat(depth) + inner + '}'.repeat(depth);
    case 2:
      return '{"$op":"identity","args":['.repeat(depth) + inner + ']}'.repeat(depth);
    default:
      return `{"$literal":${'['.repeat(depth)}${inner}${']'.repeat(depth)}}`;
  }
}

const CONTENT_TYPES = [
  'text/plain',
  'application/xml',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  'application/msgpack',
  'image/png',
  'json',
  'application/jsonx',
];

/**
 * Nodes made of the format's own words in random places: markers with
 * arguments of any type, references to keys that may exist, ops that may.
 */
const soup = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(fc.integer(), fc.constantFrom('a', 'b', 'c', 'inc', '', null, true, 1.5, -0)),
    fc.array(tie('node'), { maxLength: 3 }),
    fc.dictionary(
      fc.constantFrom('$op', '$ref', '$oid', '$literal', 'args', 'kwargs', 'returns', 'index', 'a', '$x'),
      tie('node'),
      { maxKeys: 4 },
    ),
    fc.record(
      {
        $op: fc.constantFrom('inc', 'add', 'sum', 'getitem', 'concat', 'range', 'identity', 'nope', 'fail'),
        args: fc.array(tie('node'), { maxLength: 3 }),
      },
      { requiredKeys: ['$op'] },
    ),
    fc.record(
      { $ref: fc.constantFrom('a', 'b', 'c', 'd'), index: fc.oneof(fc.nat(3), fc.constant(-1)) },
      { requiredKeys: ['$ref'] },
    ),
  ),
})).node;

/** A malformed request: [description, body, content type]. */
const malformed: fc.Arbitrary<[string, string, string | null]> = fc.oneof(
  // Graphs of marker soup: mostly invalid, sometimes valid (and then they must end).
  fc
    .tuple(
      fc.dictionary(fc.constantFrom('a', 'b', 'c'), soup, { minKeys: 1, maxKeys: 3 }),
      fc.constantFrom<unknown>('a', ['a', ['b']], 'c', []),
    )
    .map(([graph, keys]): [string, string, string | null] => [
      'marker soup',
      JSON.stringify({ graph, keys, wait: 10 }),
      'application/json',
    ]),
  // Not JSON at all.
  fc
    .string({ unit: 'binary', maxLength: 40 })
    .filter((s) => {
      try {
        JSON.parse(s);
        return false;
      } catch {
        return true;
      }
    })
    .map((s): [string, string, string | null] => ['not JSON', s, 'application/json']),
  // JSON under a content type the route does not take, or none.
  fc
    .tuple(fc.constantFrom(...CONTENT_TYPES, null), fc.jsonValue())
    .map(([ct, v]): [string, string, string | null] => [
      'wrong content type',
      JSON.stringify({ graph: { x: 1 }, keys: 'x', v }),
      ct,
    ]),
  // Any JSON value as the whole body.
  fc
    .jsonValue()
    .map((v): [string, string, string | null] => ['any JSON value', JSON.stringify(v) ?? 'null', 'application/json']),
  // A valid graph broken in one place.
  fc.tuple(fc.gen(), fc.nat(11), fc.nat(1000)).map(([g, how, pick]): [string, string, string | null] => {
    const { graph, keys } = drawGraph(g);
    return [`valid graph broken by mutation ${how}`, breakGraph(graph, keys, how, pick), 'application/json'];
  }),
);

/** A request built from a valid graph with one thing made wrong (some mutations may leave it valid, which is fine). */
function breakGraph(graph: Entries, keys: unknown, how: number, pick: number): string {
  const at = pick % graph.length;
  const [key] = graph[at];
  const withNode = (node: unknown) => graph.map(([k, n], i): [string, unknown] => [k, i === at ? node : n]);
  const req = (g: unknown, extra: Record<string, unknown> = {}) =>
    JSON.stringify({ graph: g, keys, wait: 10, ...extra });
  switch (how) {
    case 0:
      return req(toJson(withNode(badNodes[pick % badNodes.length])));
    case 1:
      return req(toJson(withNode({ $op: 'add', args: [1, badNodes[pick % badNodes.length]] })));
    case 2: {
      // A cycle through the chosen key and another (or itself).
      const other = graph[(at + 1 + (pick >> 4)) % graph.length][0];
      return req(
        toJson([
          ...graph.filter(([k]) => k !== key && k !== other),
          [key, { $op: 'inc', args: [{ $ref: other }] }],
          ...(other === key ? [] : [[other, { $ref: key }] as [string, unknown]]),
        ]),
      );
    }
    case 3: {
      // Deep nesting in the graph, the keys or the dependencies, written as text (too deep for JSON.stringify).
      const depth = [65, 100, 1000, 10_000, 50_000][pick % 5];
      const kind = (pick >> 3) % 4;
      const graphText = JSON.stringify(toJson(graph));
      const where = (pick >> 5) % 3;
      if (where === 0)
        return `{"graph":{"deep":${nested(kind, depth, '1')},"rest":${graphText}},"keys":["deep"],"wait":10}`;
      if (where === 1) return `{"graph":${graphText},"keys":${nested(0, depth, JSON.stringify(key))},"wait":10}`;
      return `{"graph":${graphText},"keys":${JSON.stringify(key)},"dependencies":${nested(1, depth, '1')},"wait":10}`;
    }
    case 4:
      return req(toJson(graph), { keys: [null, 5, {}, [[[]]], true][pick % 5] });
    case 5:
      return req([toJson(graph), null, 'graph', 5, []][pick % 5]);
    case 6:
      return req(
        toJson(graph),
        [
          { wait: 'soon' },
          { wait: -1 },
          { wait: 1e9 },
          { ttl: 0 },
          { ttl: 1.5 },
          { persist: 'yes' },
          { options: { cache: 1 } },
          { options: { fuse: true } },
          { callbacks: [{ url: 'ftp://example.com' }] },
          { callbacks: {} },
          { presubmit: { url: 'file:///etc/passwd' } },
          { layers: {} },
          { graph2: 1 },
        ][pick % 13],
      );
    case 7:
      // Layers that define a key twice, or that are not graphs.
      return JSON.stringify({
        layers: [
          record([
            ['a', toJson(graph)],
            ['b', toJson(graph.slice(at, at + 1))],
          ]),
          { a: 5 },
          [],
          { a: [] },
        ][pick % 4],
        keys,
        wait: 10,
      });
    case 8:
      return req(toJson([...graph, ['k'.repeat(MAX_KEY_BYTES + 1 + (pick % 3)), 1]]));
    case 9:
      // A requested key that is not in the graph, somewhere in the nesting.
      return req(toJson(graph), { keys: [keys, [`${key}-not-there`]] });
    case 10:
      // A task with too many arguments or of the wrong types: valid to submit, the graph fails.
      return req(
        toJson(
          withNode({ $op: ['inc', 'add', 'getitem', 'concat', 'sum'][pick % 5], args: [{ $ref: key }, 'text', null] }),
        ),
      );
    default: {
      // The graph truncated somewhere: never valid JSON.
      const text = req(toJson(graph));
      return text.slice(0, 1 + (pick % (text.length - 1)));
    }
  }
}

describe('random malformed requests', () => {
  it('get a 4xx with a catalogued code (or, when still valid, a graph that ends); never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(malformed, async ([what, body, contentType]) => {
        expectWellFormedAnswer(await post(body, contentType), `${what}: ${body.slice(0, 300)} (${contentType})`);
      }),
      bounded,
    );
    await expectServiceHealthy();
  });

  it('over-deep nesting of every kind is rejected, naming the limit', async () => {
    for (let kind = 0; kind < 4; kind++) {
      // 30,000 levels of the most verbose kind still fit the 1 MB body limit of this file's service.
      for (const depth of [65, 30_000]) {
        const res = await post(`{"graph":{"x":${nested(kind, depth, '1')}},"keys":"x","wait":5}`);
        expect(res.status, `kind ${kind} depth ${depth}: ${res.text.slice(0, 300)}`).toBe(400);
        expect(res.body.error.code).toBe('invalid_graph');
        expect(res.body.error.message).toMatch(/deeper than 64/);
      }
    }
    await expectServiceHealthy();
  });
});

describe('special keys', () => {
  /** A field named like `k` (a field starting with "$" is a marker, by the format: such data goes in $literal). */
  const fieldOf = (k: string) => (k.startsWith('$') ? `_${k}` : k);

  /** A graph where `k` is data, a task, an alias target and a field name, requested nested. */
  async function computeWith(k: string): Promise<{ status: number; body: any; text: string }> {
    const graph = toJson([
      [k, 41],
      [`${k}+1`, { $op: 'inc', args: [{ $ref: k }] }],
      [`alias of ${k}`, { $ref: `${k}+1` }],
      [
        `${k}-record`,
        record([
          [fieldOf(k), { $ref: `${k}+1` }],
          ['other', { $op: 'getitem', args: [{ $literal: record([[k, 7]]) }, k] }],
        ]),
      ],
    ]);
    return post(JSON.stringify({ graph, keys: [`alias of ${k}`, [k, `${k}-record`]], wait: 30 }));
  }

  for (const k of SPECIAL_KEYS) {
    it(`${JSON.stringify(k.length > 20 ? `${k.slice(0, 20)}...` : k)} is an ordinary key and field name`, async () => {
      const res = await computeWith(k);
      expect(res.status, res.text.slice(0, 300)).toBe(200);
      expect(res.body.result).toEqual([
        42,
        [
          41,
          viaJson(
            record([
              [fieldOf(k), 42],
              ['other', 7],
            ]),
          ),
        ],
      ]);
      // The key as stored: object metadata gives it back unchanged.
      const meta = (await (await fetch(`${weft.url}/v1/objects/${res.body.outputs[1][0].$oid}/meta`)).json()) as any;
      expect(meta.key).toBe(k);
    });
  }

  it('any unicode key up to the byte limit computes; a longer one is 400 key_too_long naming its prefix and the limit', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({
          unit: fc.constantFrom('a', 'é', '日', '🎉', '{', '.', ':', '$', '"', '\\'),
          minLength: 0,
          maxLength: 600,
        }),
        async (k) => {
          const res = await computeWith(k);
          // The longest key of the graph is `alias of ${k}`.
          const bytes = Buffer.byteLength(`alias of ${k}`);
          if (bytes <= MAX_KEY_BYTES) {
            expect(res.status, res.text.slice(0, 300)).toBe(200);
            expect(res.body.result[0]).toBe(42);
          } else {
            expect(res.status).toBe(400);
            expect(res.body.error).toMatchObject({ code: 'key_too_long', limit: MAX_KEY_BYTES });
            expect(res.body.error.bytes).toBeGreaterThan(MAX_KEY_BYTES);
            expect(res.body.error.key.length).toBeLessThanOrEqual(64);
            expect(res.body.error.message).toContain('WEFT_MAX_KEY_BYTES');
          }
        },
      ),
      { ...bounded, numRuns: 60 },
    );
  });

  it('a key of exactly the limit is accepted; one byte more is rejected', async () => {
    const exact = 'é'.repeat(MAX_KEY_BYTES / 2);
    const ok = await post(
      JSON.stringify({ graph: record([[exact, { $op: 'inc', args: [1] }]]), keys: exact, wait: 30 }),
    );
    expect(ok.body).toMatchObject({ status: 'done', result: 2 });
    const over = `${exact}a`;
    const res = await post(JSON.stringify({ graph: record([[over, 1]]), keys: over }));
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'key_too_long', bytes: MAX_KEY_BYTES + 1, limit: MAX_KEY_BYTES });
  });

  it('a key that is not well-formed unicode (a lone surrogate) is rejected: it could not be stored as UTF-8', async () => {
    const res = await post('{"graph":{"a\\ud800b":1},"keys":"a\\ud800b"}');
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_graph' });
    expect(res.body.error.message).toMatch(/unicode/i);
  });
});
