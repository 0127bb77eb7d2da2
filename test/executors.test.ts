/**
 * Foreign tasks through real executor processes behind real workers: the
 * JavaScript test executor (test/fixtures/executors/js-executor.mjs, language
 * "js", functions as source text) for the worker's side of the protocol
 * (batches, crashes, timeouts, retries, restarts, the clean environment), and
 * the Python executor for Python tasks and values shared with TypeScript ops.
 */
import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSpec } from '../src/queue/spec.ts';
import { encodeValue, decodeValue } from '../src/shared/codec.ts';
import { Foreign } from '../src/shared/values/foreign.ts';
import { NDArray } from '../src/shared/values/ndarray.ts';
import { executorEnvironment, pythonExecutorEnv } from '../src/workers/executors/python.ts';
import { waitFor } from './helpers/wait.ts';
import { startWeft, type Weft } from './helpers/weft.ts';

const JS_EXECUTOR = 'node test/fixtures/executors/js-executor.mjs';
const PYTHON = process.env.WEFT_TEST_PYTHON ?? '/usr/bin/python3';

/** A JS function as a foreign value of the test executor. */
const js = (source: string, name = 'f') => ({
  $foreign: { lang: 'js', name, data: Buffer.from(source).toString('base64') },
});

/** Python callables and values as foreign values, pickled by Debian's Python with cloudpickle. */
function pickles(
  expressions: Record<string, string>,
): Record<string, { $foreign: { lang: string; name: string; data: string } }> {
  const script = `
import base64, json, sys, cloudpickle, numpy as np
exprs = json.loads(sys.argv[1])
out = {}
for k, src in exprs.items():
    v = eval(src)
    out[k] = {"$foreign": {"lang": "python", "name": getattr(v, "__qualname__", type(v).__qualname__), "data": base64.b64encode(cloudpickle.dumps(v, protocol=5)).decode()}}
print(json.dumps(out))
`;
  const run = spawnSync(PYTHON, ['-c', script, JSON.stringify(expressions)], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`${PYTHON} could not pickle: ${run.stderr}`);
  return JSON.parse(run.stdout);
}

async function postMsgpack(weft: Weft, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${weft.url}/v1/graphs`, {
    method: 'POST',
    headers: { 'content-type': 'application/msgpack', accept: 'application/msgpack' },
    body: new Uint8Array(encodeValue(body)),
  });
  return { status: res.status, body: decodeValue(Buffer.from(await res.arrayBuffer())) };
}

describe('the JavaScript test executor behind real workers', () => {
  let weft: Weft;
  beforeAll(async () => {
    weft = await startWeft({
      workers: 1,
      env: { WEFT_POOLS: 'default,js', WEFT_EXECUTOR_JS: JS_EXECUTOR, WEFT_EXECUTORS: '2', SECRET_TOKEN: 'xyz' },
    });
  });
  afterAll(() => weft.close());

  it('runs foreign calls, nested, with kwargs and inputs of weft ops, and weft ops on their results', async () => {
    const body = await weft.compute(
      {
        x: 2,
        y: { $op: 'inc', args: [{ $ref: 'x' }] },
        z: {
          $call: js('(a, b, kw) => a * b + kw.c'),
          args: [{ $ref: 'y' }, { $call: js('(v) => v + 10'), args: [{ $ref: 'x' }] }],
          kwargs: { c: 1 },
        },
        w: { $op: 'add', args: [{ $ref: 'z' }, 100] },
      },
      ['w', 'z'],
    );
    expect(body.error).toBeUndefined();
    expect(body.result).toEqual([137, 37]);
  });

  it('shares one callable among many tasks through a data key, and mixed nesting is split by language', async () => {
    const graph: Record<string, unknown> = { f: js('(i) => i * i', 'square') };
    for (let i = 0; i < 200; i++) graph[`t${i}`] = { $call: { $ref: 'f' }, args: [i] };
    graph.total = { $op: 'sum', args: [Array.from({ length: 200 }, (_, i) => ({ $ref: `t${i}` }))] };
    graph.mixed = { $call: js('(a) => a * 2'), args: [{ $op: 'inc', args: [{ $ref: 'total' }] }] };
    const body = await weft.compute(graph, ['total', 'mixed']);
    const total = Array.from({ length: 200 }, (_, i) => i * i).reduce((a, b) => a + b);
    expect(body.result).toEqual([total, (total + 1) * 2]);
  });

  it('an exception fails the graph with its type, message, stack and op; retries apply', async () => {
    const body = await weft.compute(
      { bad: { $call: js('function boom() { throw new RangeError("no way") }', 'boom') } },
      'bad',
    );
    expect(body.status).toBe('failed');
    expect(body.error).toMatchObject({
      key: 'bad',
      code: 'task_error',
      type: 'RangeError',
      message: 'RangeError: no way',
    });
    expect(body.error.stack).toContain('no way');
  });

  it('an executor that dies during a task is restarted, and the task fails with executor_died once its retries are used', async () => {
    const crash = js('() => process.exit(3)', 'crash');
    const body = await weft.compute({ c: { $call: crash, options: { retries: 1 } } }, 'c');
    expect(body.status).toBe('failed');
    expect(body.error).toMatchObject({ key: 'c', code: 'executor_died', attempts: 2 });
    // The executors were replaced: the next graph runs.
    expect((await weft.compute({ ok: { $call: js('() => 7') } }, 'ok')).result).toBe(7);
    // The registry shows both restarts from the next heartbeat on.
    const info = await waitFor('the registry to count two executor restarts', async () => {
      const { workers } = await (await fetch(`${weft.url}/v1/workers`)).json();
      const js = workers[0].executors.find((e: { pool: string }) => e.pool === 'js');
      return js.restarts >= 2 ? js : undefined;
    });
    expect(info).toMatchObject({ lang: 'js', processes: 2 });
  });

  it('in a batch whose executor dies, only the task that kills it fails; the others are run again alone', async () => {
    const graph: Record<string, unknown> = {
      f: js('(i) => { if (i === 5) process.kill(process.pid, "SIGKILL"); return i }'),
    };
    for (let i = 0; i < 10; i++) graph[`t${i}`] = { $call: { $ref: 'f' }, args: [i], options: { retries: 0 } };
    const ok = Array.from({ length: 10 }, (_, i) => `t${i}`).filter((k) => k !== 't5');
    const fine = await weft.compute(graph, ok);
    expect(fine.result).toEqual(ok.map((k) => Number(k.slice(1))));
    const failed = await weft.compute(graph, 't5');
    expect(failed.error).toMatchObject({ key: 't5', code: 'executor_died' });
  });

  it('a task past its timeout has its executor killed and fails with timeout, while other tasks go on', async () => {
    const body = await weft.compute(
      { slow: { $call: js('() => { for (;;) {} }', 'spin'), options: { timeout_ms: 300 } } },
      'slow',
    );
    expect(body.error).toMatchObject({ key: 'slow', code: 'timeout' });
    expect((await weft.compute({ ok: { $call: js('() => "after"') } }, 'ok')).result).toBe('after');
  });

  it('a lost value made by a foreign task is computed again from lineage by an executor', async () => {
    const graph = {
      base: { $call: js('() => Array.from({ length: 1000 }, (_, i) => i)', 'base') },
      x: { $call: js('(a) => a.map((v) => v * 2)', 'double'), args: [{ $ref: 'base' }] },
      gate: { $op: 'sleep', args: [600, 0] },
      y: { $op: 'add', args: [{ $op: 'sum', args: [{ $ref: 'x' }] }, { $ref: 'gate' }] },
    };
    const { body } = await weft.submit({ graph, keys: 'y', options: { optimize: { fuse: false } } });
    const admin = new Redis(weft.env.REDIS_URL);
    try {
      const field = await waitFor('x to be stored', async () => {
        const specs = await admin.hgetallBuffer(`${weft.env.WEFT_PREFIX}:{${body.id}}:spec`);
        const x = Object.entries(specs).find(([, spec]) => decodeSpec(spec).key === 'x')?.[0];
        const vals = `${weft.env.WEFT_PREFIX}:{${body.id}}:vals`;
        return x !== undefined && (await admin.hexists(vals, x)) ? x : undefined;
      });
      // x goes behind the store's back (base was freed when x read it): both come back from lineage.
      expect(await admin.hdel(`${weft.env.WEFT_PREFIX}:{${body.id}}:vals`, field)).toBe(1);
    } finally {
      admin.disconnect();
    }
    const out = await (await fetch(`${weft.url}/v1/graphs/${body.id}/result?wait=30`)).json();
    expect(out.status, JSON.stringify(out.error)).toBe('done');
    expect(out.result).toBe(999 * 1000);
  });

  it('executors start with a clean environment: no REDIS_URL, no tokens, nothing the operator did not pass on', async () => {
    const body = await weft.compute(
      {
        env: {
          $call: js('() => [process.env.REDIS_URL ?? null, process.env.SECRET_TOKEN ?? null, !!process.env.PATH]'),
        },
      },
      'env',
    );
    expect(body.result).toEqual([null, null, true]);
  });

  it('a foreign task in a worker without an executor for its language fails with no_executor', async () => {
    const python = { $foreign: { lang: 'python', name: 'f', data: '' } };
    const body = await weft.compute({ p: { $call: python, options: { pool: 'js' } } }, 'p');
    expect(body.error).toMatchObject({ key: 'p', code: 'no_executor' });
    expect(body.error.message).toContain('no executor for python tasks');
  });
});

describe('Python tasks', () => {
  let weft: Weft;
  beforeAll(async () => {
    weft = await startWeft({ workers: 2, env: { WEFT_POOLS: 'default,python', WEFT_EXECUTORS: '1' } });
  });
  afterAll(() => weft.close());

  it('run a lambda, and Python exceptions come back with their type, traceback and pickled exception', async () => {
    const p = pickles({ triple: 'lambda v: v * 3', div: 'lambda a, b: a / b' });
    expect((await weft.compute({ x: { $call: p.triple, args: [4] } }, 'x')).result).toBe(12);
    const body = await weft.compute({ z: { $call: p.div, args: [1, 0] } }, 'z');
    expect(body.error).toMatchObject({ key: 'z', code: 'task_error', type: 'ZeroDivisionError', lang: 'python' });
    expect(body.error.message).toBe('ZeroDivisionError: division by zero');
    expect(body.error.stack).toContain('Traceback');
    expect(typeof body.error.exception).toBe('string');
  });

  it('an exception pickled in megabytes comes back whole, and a result of megabytes is stored and read back whole', async () => {
    const p = pickles({
      raise: 'lambda n: (_ for _ in ()).throw(ValueError("x" * n))',
      make: 'lambda n: np.arange(n, dtype="float64")',
      total: 'lambda a: float(a.sum())',
    });
    const body = await weft.compute({ e: { $call: p.raise, args: [2_000_000] } }, 'e');
    expect(body.error).toMatchObject({ key: 'e', code: 'task_error', type: 'ValueError' });
    // The pickled exception holds the 2 MB message: it was over the size a big frame's byte strings come out uncopied.
    expect(Buffer.from(body.error.exception, 'base64').length).toBeGreaterThan(2_000_000);
    const big = await weft.compute(
      { a: { $call: p.make, args: [1_000_000] }, t: { $call: p.total, args: [{ $ref: 'a' }] } },
      't',
      {
        options: { optimize: { fuse: false } },
      },
    );
    expect(big.error, JSON.stringify(big.error)).toBeUndefined();
    expect(big.result).toBe((999_999 * 1_000_000) / 2);
  });

  it('a pickle naming a module the workers lack, and a result that cannot be pickled, fail the task with a clear message', async () => {
    // A pickle of a function by reference to a module that does not exist on the workers.
    const missing = {
      $foreign: {
        lang: 'python',
        name: 'nowhere_module.f',
        data: Buffer.from(
          '\x80\x05\x95\x16\x00\x00\x00\x00\x00\x00\x00\x8c\x0enowhere_module\x94\x8c\x01f\x94\x93\x94.',
          'latin1',
        ).toString('base64'),
      },
    };
    const lost = await weft.compute({ m: { $call: missing, args: [1] } }, 'm');
    expect(lost.error).toMatchObject({ key: 'm', code: 'bad_callable' });
    expect(lost.error.message).toContain('nowhere_module');
    const p = pickles({ lock: 'lambda: __import__("threading").Lock()' });
    const bad = await weft.compute({ l: { $call: p.lock } }, 'l');
    expect(bad.error).toMatchObject({ key: 'l', code: 'bad_result' });
    expect(bad.error.message).toMatch(/lock/i);
    // The worker and its executors go on.
    expect((await weft.compute({ x: { $call: pickles({ f: 'lambda: 5' }).f } }, 'x')).result).toBe(5);
  });

  it('a numpy array made by a Python task is read by a TypeScript op, and the other way round, zero-copy formats both ways', async () => {
    const p = pickles({ make: 'lambda n: np.arange(n, dtype="float64") * 2', total: 'lambda a: float(a.sum())' });
    const body = await weft.compute(
      {
        a: { $call: p.make, args: [1000] },
        ts: { $op: 'array.sum', args: [{ $ref: 'a' }] },
        b: { $op: 'array.arange', args: [10] },
        py: { $call: p.total, args: [{ $ref: 'b' }] },
      },
      ['ts', 'py'],
    );
    if (body.status !== 'done') {
      await new Promise((r) => setTimeout(r, 1000));
      console.log(JSON.stringify(await (await fetch(`${weft.url}/v1/graphs/${body.id}/tasks`)).json()));
      console.log(JSON.stringify(await (await fetch(`${weft.url}/v1/graphs/${body.id}/events`)).json()));
    }
    expect(body.error).toBeUndefined();
    expect(body.result).toEqual([999 * 1000, 45]);
  });

  it('every Python executor hashes strings alike: PYTHONHASHSEED is fixed (6640, as Dask multiprocessing), unless the operator passes their own', async () => {
    const p = pickles({
      h: 'lambda i: [__import__("os").environ.get("PYTHONHASHSEED"), str(hash("weft")), __import__("os").getpid()]',
    });
    // Tasks spread over both workers' executors (a slow task each, so neither worker takes them all).
    const slow = pickles({
      s: 'lambda i: (__import__("time").sleep(0.05), [__import__("os").environ.get("PYTHONHASHSEED"), str(hash("weft")), __import__("os").getpid()])[1]',
    });
    const graph: Record<string, unknown> = {};
    for (let i = 0; i < 16; i++) graph[`h${i}`] = { $call: i % 2 ? p.h : slow.s, args: [i] };
    const body = await weft.compute(graph, Object.keys(graph));
    expect(body.error).toBeUndefined();
    const results = body.result as [string, string, number][];
    expect(new Set(results.map((r) => r[2])).size).toBeGreaterThan(1);
    const local = spawnSync(PYTHON, ['-c', 'print(hash("weft"))'], {
      encoding: 'utf8',
      env: { ...process.env, PYTHONHASHSEED: '6640' },
    });
    for (const [seed, hash] of results) {
      expect(seed).toBe('6640');
      expect(hash).toBe(local.stdout.trim());
    }
    expect(pythonExecutorEnv([], { PYTHONHASHSEED: '1' })).toMatchObject({ PYTHONHASHSEED: '6640' });
    expect(pythonExecutorEnv(['PYTHONHASHSEED'], { PYTHONHASHSEED: '1' }).PYTHONHASHSEED).toBeUndefined();
    expect(pythonExecutorEnv(['PYTHONHASHSEED'], {}).PYTHONHASHSEED).toBe('6640');
    expect(
      executorEnvironment(['PYTHONHASHSEED'], pythonExecutorEnv(['PYTHONHASHSEED'], { PYTHONHASHSEED: '7' }), {
        PYTHONHASHSEED: '7',
      }).PYTHONHASHSEED,
    ).toBe('7');
  });

  it('a Python-only result is a foreign value: described in JSON, its bytes in MessagePack', async () => {
    const p = pickles({ pair: 'lambda: (1, "two")' });
    const json = await weft.compute({ t: { $call: p.pair } }, 't');
    expect(json.result).toMatchObject({ $foreign: { lang: 'python', name: 'builtins.tuple' } });
    expect(json.result.$foreign.bytes).toBeGreaterThan(0);
    const packed = await postMsgpack(weft, { graph: { t: { $call: p.pair } }, keys: 't', wait: 30 });
    expect(packed.body.result).toBeInstanceOf(Foreign);
    // The answer holds the stored bytes as they are: an integer past 2^53 keeps every digit.
    const big = pickles({ f: 'lambda: [2**62 + 1, -(2**63)]' });
    const ints = await postMsgpack(weft, { graph: { i: { $call: big.f } }, keys: ['i'], wait: 30 });
    expect(ints.body.result).toEqual([[2n ** 62n + 1n, -(2n ** 63n)]]);
  });

  it('a MessagePack request carries numpy data as an array chunk literal', async () => {
    const p = pickles({ mean: 'lambda a: float(a.mean())' });
    const data = new NDArray('float64', [4], new Float64Array([1, 2, 3, 6]));
    const body = await postMsgpack(weft, {
      graph: { d: data, m: { $call: p.mean, args: [{ $ref: 'd' }] } },
      keys: 'm',
      wait: 30,
    });
    expect(body.status).toBe(200);
    expect(body.body.result).toBe(3);
  });
});

describe('who may run code', () => {
  const ALICE = 'alice-token-0123456789';
  const BOB = 'bob-token-0123456789abc';
  let weft: Weft;
  beforeAll(async () => {
    weft = await startWeft({
      workers: 1,
      env: {
        WEFT_TOKENS: `alice=${ALICE},bob=${BOB}`,
        WEFT_CODE_TENANTS: 'alice',
        WEFT_POOLS: 'default,js',
        WEFT_EXECUTOR_JS: JS_EXECUTOR,
        WEFT_EXECUTORS: '1',
      },
    });
  });
  afterAll(() => weft.close());

  const submit = (token: string, graph: unknown) =>
    fetch(`${weft.url}/v1/graphs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ graph, keys: 'x', wait: 30 }),
    });

  it('with tokens, a tenant in WEFT_CODE_TENANTS runs foreign calls and another gets 403 code_forbidden', async () => {
    const graph = { x: { $call: js('() => 42') } };
    const allowed = await submit(ALICE, graph);
    expect(allowed.status).toBe(200);
    expect((await allowed.json()).result).toBe(42);
    const refused = await submit(BOB, graph);
    expect(refused.status).toBe(403);
    expect((await refused.json()).error).toMatchObject({ code: 'code_forbidden', tenant: 'bob' });
    // A nested call counts too, and weft ops stay open to everyone.
    expect((await submit(BOB, { x: { $op: 'inc', args: [{ $call: js('() => 1') }] } })).status).toBe(403);
    expect((await (await submit(BOB, { x: { $op: 'inc', args: [1] } })).json()).result).toBe(2);
  });
});

describe('a worker killed while its executor runs a task', () => {
  let weft: Weft;
  beforeAll(async () => {
    weft = await startWeft({
      workers: 1,
      env: { WEFT_POOLS: 'default,js', WEFT_EXECUTOR_JS: JS_EXECUTOR, WEFT_EXECUTORS: '1' },
    });
  });
  afterAll(() => weft.close());

  it('takes its executor with it, and the task runs again on another worker and completes', async () => {
    const victim = weft.workers[0];
    const executorPids = await waitFor('the executor to be registered', async () => {
      const { workers } = await (await fetch(`${weft.url}/v1/workers`)).json();
      return workers[0]?.executors?.[0]?.processes === 1 ? true : undefined;
    });
    expect(executorPids).toBe(true);
    // A task that reports its executor's pid, then runs for a while.
    const slow = js('async () => { await new Promise((r) => setTimeout(r, 1500)); return process.pid }', 'slow');
    const submitted = await weft.submit({ graph: { s: { $call: slow } }, keys: 's' });
    const id = submitted.body.id as string;
    await waitFor('the task to start', async () => {
      const { events } = await (await fetch(`${weft.url}/v1/graphs/${id}/events`)).json();
      return events.some((e: { type: string }) => e.type === 'pretask') ? true : undefined;
    });
    const executors = spawnSync('pgrep', ['-P', String(victim.pid)], { encoding: 'utf8' })
      .stdout.trim()
      .split('\n');
    expect(executors.length).toBeGreaterThan(0);
    victim.kill('SIGKILL');
    // Its executors die with it (PR_SET_PDEATHSIG or the end of their stdin), and a new worker finishes the task.
    await waitFor(
      'the orphaned executors to exit',
      () => executors.every((pid) => spawnSync('kill', ['-0', pid]).status !== 0),
      { intervalMs: 100 },
    );
    await weft.startWorker();
    const { body } = await (await fetch(`${weft.url}/v1/graphs/${id}/result?wait=30`))
      .json()
      .then((b) => ({ body: b }));
    expect(body.status).toBe('done');
    expect(executors).not.toContain(String(body.result));
  });
});
