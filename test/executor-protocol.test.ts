/**
 * The executor protocol (docs/executors.md) spoken by two executors: the
 * Python one (clients/python/weft/executor.py) and the minimal JavaScript one
 * (test/fixtures/executors/js-executor.mjs). Each test sends both the same run
 * frames through a pipe; only the callables differ, each in its language's
 * serialization (a pickle, a function's source). No Redis, no worker.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pack, unpack } from 'msgpackr';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeValue } from '../src/shared/codec.ts';
import { NDArray } from '../src/shared/values/ndarray.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const PYTHON = process.env.WEFT_TEST_PYTHON ?? '/usr/bin/python3';

type Fn = 'add' | 'neg' | 'div' | 'divmod' | 'kw' | 'print';
interface Lang {
  lang: string;
  command: string[];
  /** Each test function's foreign value, [lang, name, data], and the name errors give for div. */
  fns: Record<Fn, [string, string, Buffer]>;
  divOp: string;
}

const JS_SOURCES: Record<Fn, string> = {
  add: '(a, b) => a + b',
  neg: '(a) => -a',
  div: 'function div(a, b) { if (b === 0) throw new RangeError("division by zero"); return a / b; }',
  divmod: '(a, b) => [Math.floor(a / b), a % b]',
  kw: '(kw) => kw',
  print: '(s) => console.log(s)',
};

const langs: Lang[] = [
  {
    lang: 'js',
    command: ['node', `${root}/test/fixtures/executors/js-executor.mjs`],
    fns: Object.fromEntries(
      Object.entries(JS_SOURCES).map(([k, src]) => [k, ['js', k, Buffer.from(src)]]),
    ) as Lang['fns'],
    divOp: 'div',
  },
  { lang: 'python', command: [PYTHON, '-m', 'weft.executor'], fns: {} as Lang['fns'], divOp: 'truediv' },
];

beforeAll(() => {
  // The Python functions, pickled by reference (what cloudpickle does for importable functions).
  const script = `import base64, json, operator, pickle
import cloudpickle, msgpack  # what the executor needs
fns = dict(add=operator.add, neg=operator.neg, div=operator.truediv, divmod=divmod, kw=dict, print=print)
print(json.dumps({k: base64.b64encode(pickle.dumps(f, protocol=5)).decode() for k, f in fns.items()}))`;
  const out = spawnSync(PYTHON, ['-c', script], { encoding: 'utf8' });
  expect(
    out.status,
    `${PYTHON} needs cloudpickle and msgpack (Debian: python3-cloudpickle, python3-msgpack): ${out.stderr}`,
  ).toBe(0);
  const python = langs[1];
  for (const [k, b64] of Object.entries(JSON.parse(out.stdout) as Record<Fn, string>))
    python.fns[k as Fn] = ['python', k, Buffer.from(b64, 'base64')];
});

/** Ext 0x50 as stored bytes: [lang, name, data]. */
function foreign([lang, name, data]: [string, string, Buffer]): Buffer {
  const payload = pack([lang, name, data]);
  return Buffer.concat([Buffer.from([0xc8, payload.length >> 8, payload.length & 0xff, 0x50]), payload]);
}

/**
 * A template as MessagePack, where a Buffer inside it marked with raw() is
 * spliced in as it is (a foreign literal is an extension value, not a bin).
 */
const RAW = new Map<string, Buffer>();
function raw(bytes: Buffer): string {
  const marker = `\u0000raw${RAW.size}\u0000`;
  RAW.set(marker, bytes);
  return marker;
}
function template(t: unknown): Buffer {
  let out = pack(t);
  for (const [marker, bytes] of RAW) {
    const packed = pack(marker);
    const at = out.indexOf(packed);
    if (at >= 0) out = Buffer.concat([out.subarray(0, at), bytes, out.subarray(at + packed.length)]);
  }
  return out;
}

/** One executor process, driven frame by frame. */
class Executor {
  readonly child: ChildProcessWithoutNullStreams;
  private buffered = Buffer.alloc(0);
  private waiting: ((m: Record<string, unknown>) => void)[] = [];
  stderr = '';

  constructor(command: string[]) {
    this.child = spawn(command[0], command.slice(1), {
      cwd: root,
      env: { PATH: process.env.PATH, PYTHONPATH: `${root}/clients/python` },
    });
    this.child.stderr.on('data', (d) => (this.stderr += d));
    this.child.stdout.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      while (this.buffered.length >= 4 && this.buffered.length >= 4 + this.buffered.readUInt32BE(0)) {
        const n = this.buffered.readUInt32BE(0);
        const message = unpack(this.buffered.subarray(4, 4 + n)) as Record<string, unknown>;
        this.buffered = this.buffered.subarray(4 + n);
        this.waiting.shift()?.(message);
      }
    });
  }

  next(): Promise<Record<string, unknown>> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  send(message: unknown): void {
    const body = pack(message);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length);
    this.child.stdin.write(Buffer.concat([head, body]));
  }

  /** Runs one batch: tasks are [template, inputs, returns?]; gives the done frame's results. */
  async run(tasks: [unknown, Buffer[], number?][]): Promise<Record<string, any>[]> {
    const answer = this.next();
    this.send({
      t: 'run',
      batch: 1,
      tasks: tasks.map(([t, inputs, returns], id) => ({
        id,
        graph: 'g',
        key: `k-${id}`,
        template: template(t),
        inputs,
        returns: returns ?? null,
      })),
    });
    const done = await answer;
    expect(done.t).toBe('done');
    return done.results as Record<string, any>[];
  }

  exited(): Promise<number | null> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null) resolve(this.child.exitCode);
      else this.child.once('exit', resolve);
    });
  }
}

const values = (r: Record<string, any>) => (r.values as Buffer[]).map((v) => unpack(v));

describe.each(langs)('the $lang executor', (l) => {
  let ex: Executor;
  const fn = (name: Fn) => [0, raw(foreign(l.fns[name]))];
  const call = (name: Fn, args: unknown[]) => [6, fn(name), args, null, null];
  const start = async () => {
    ex = new Executor(l.command);
    const hello = await ex.next();
    expect(hello).toMatchObject({ t: 'hello', protocol: 1, lang: l.lang });
    expect(hello.pid).toBe(ex.child.pid);
  };
  afterEach(() => ex?.child.kill('SIGKILL'));

  it('says hello, runs nested calls, lists, maps and kwargs, and exits when stdin ends', async () => {
    await start();
    const results = await ex.run([
      [
        call('add', [
          call('add', [
            [1, 0],
            [0, 2],
          ]),
          call('neg', [[0, 3]]),
        ]),
        [encodeValue(10)],
      ],
      [
        [
          3,
          [
            [1, 0],
            [0, 'x'],
            [3, []],
          ],
        ],
        [encodeValue(10)],
      ],
      [
        [
          4,
          ['a', 'b'],
          [
            [1, 0],
            [0, null],
          ],
        ],
        [encodeValue('v')],
      ],
      [
        [
          6,
          fn('kw'),
          [],
          ['a', 'b'],
          [
            [0, 1],
            [1, 0],
          ],
        ],
        [encodeValue([1, 2])],
      ],
      // The callable may be an input as well as a literal.
      [
        [
          6,
          [1, 0],
          [
            [0, 5],
            [0, 6],
          ],
          null,
          null,
        ],
        [foreign(l.fns.add)],
      ],
    ]);
    expect(results.map((r) => r.ok)).toEqual([true, true, true, true, true]);
    expect(results.map((r) => r.id)).toEqual([0, 1, 2, 3, 4]);
    expect(results.map(values)).toEqual([[9], [[10, 'x', []]], [{ a: 'v', b: null }], [{ a: 1, b: [1, 2] }], [11]]);
    for (const r of results) expect(typeof r.ms).toBe('number');
    ex.child.stdin.end();
    expect(await ex.exited()).toBe(0);
  });

  it('returns k values for returns: k, and bad_returns for another count', async () => {
    await start();
    const [two, three] = await ex.run([
      [
        call('divmod', [
          [0, 7],
          [0, 2],
        ]),
        [],
        2,
      ],
      [
        call('divmod', [
          [0, 7],
          [0, 2],
        ]),
        [],
        3,
      ],
    ]);
    expect(values(two)).toEqual([3, 1]);
    expect(three).toMatchObject({ ok: false, error: { code: 'bad_returns' } });
  });

  it('reports a failing call with its type, message, traceback and op, naming the fused task it ran in', async () => {
    await start();
    const [failed, after] = await ex.run([
      [
        [
          5,
          'inner',
          call('div', [
            [0, 1],
            [0, 0],
          ]),
        ],
        [],
      ],
      [call('neg', [[0, 1]]), []],
    ]);
    expect(failed).toMatchObject({ id: 0, ok: false, error: { code: 'task_error', op: l.divOp, key: 'inner' } });
    expect(failed.error.message).toContain('division by zero');
    expect(failed.error.type).toMatch(/Error$/);
    expect(failed.error.traceback.length).toBeGreaterThan(0);
    expect(values(after)).toEqual([-1]);
  });

  it('answers unknown_op for a weft op and for another language’s callable', async () => {
    await start();
    const other = langs.find((o) => o !== l)!;
    const [op, foreignFn] = await ex.run([
      [[2, 'inc', [[0, 1]], null, null], []],
      [
        [
          6,
          [0, raw(foreign(other.fns.add))],
          [
            [0, 1],
            [0, 2],
          ],
          null,
          null,
        ],
        [],
      ],
    ]);
    expect(op).toMatchObject({ ok: false, error: { code: 'unknown_op', op: 'inc' } });
    expect(foreignFn).toMatchObject({ ok: false, error: { code: 'unknown_op', op: 'add' } });
  });

  it('passes array chunks through in the stored form, and keeps printed text off the frames', async () => {
    await start();
    const chunk = encodeValue(new NDArray('float64', [2], Float64Array.of(1.5, -2)));
    const [list, printed] = await ex.run([
      [[3, [[1, 0]]], [chunk]],
      [call('print', [[0, 'printed by a task']]), []],
    ]);
    expect(Buffer.from(list.values[0])).toEqual(encodeValue([new NDArray('float64', [2], Float64Array.of(1.5, -2))]));
    expect(values(printed)).toEqual([null]);
    ex.child.stdin.end();
    expect(await ex.exited()).toBe(0);
    expect(ex.stderr).toContain('printed by a task');
  });
});
