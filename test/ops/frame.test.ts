/**
 * Frame ops, called directly. Each result is checked against a plain
 * computation over JS row objects written here.
 */
import { readFileSync } from 'node:fs';
import { addExtension, Packr, Unpackr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { parseGraph, planGraph } from '../../src/graph/index.ts';
import { frameOps, hashPart } from '../../src/ops/frame/index.ts';
import { OpArgumentError, OpRegistry } from '../../src/ops/registry.ts';
import {
  FRAME_EXTENSION_TYPE,
  Frame,
  frameFromJSON,
  frameFromWire,
  framePack,
  frameToWire,
  frameUnpack,
} from '../../src/shared/values/frame.ts';
import { random } from '../helpers/random.ts';

type Row = Record<string, number | string | null>;
type Aggs = Record<string, [string, string]>;

const ctx = { signal: new AbortController().signal, graph: 'g', key: 'k' };

function call(name: string, args: unknown[], kwargs: Record<string, unknown> = {}): any {
  const op = frameOps.find((o) => o.name === name);
  if (!op) throw new Error(`no op ${name}`);
  return op.run(args, kwargs, ctx);
}

function fails(name: string, args: unknown[], message: RegExp, kwargs: Record<string, unknown> = {}): void {
  let err: unknown;
  try {
    call(name, args, kwargs);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(OpArgumentError);
  expect((err as Error).message).toMatch(message);
}

const records = (f: Frame): Row[] => call('frame.to_records', [f]);
const fromRows = (rows: Row[]): Frame => call('frame.from_records', [rows]);

/** Rows with a numeric key, a string key, a value with missing entries, and an id. */
function sampleRows(n: number, seed: number): Row[] {
  const rnd = random(seed);
  return Array.from({ length: n }, (_, i) => ({
    id: i,
    k: Math.floor(rnd() * 7),
    s: ['a', 'b', 'c', 'é', '🙂'][Math.floor(rnd() * 5)],
    x: rnd() < 0.1 ? null : 1000 + rnd() * 100,
    y: Math.floor(rnd() * 50) - 25,
  }));
}

/** Splits rows into frames of the given sizes. */
function partitions(rows: Row[], sizes: number[]): Frame[] {
  let at = 0;
  return sizes.map((s) => {
    const part = rows.slice(at, (at += s));
    return part.length ? fromRows(part) : call('frame.head', [fromRows(rows), 0]);
  });
}

function close(actual: unknown, expected: unknown): boolean {
  if (typeof expected !== 'number' || typeof actual !== 'number') return actual === expected;
  if (Number.isNaN(expected)) return Number.isNaN(actual);
  return Math.abs(actual - expected) <= 1e-12 * Math.abs(expected);
}

function expectRowsClose(actual: Row[], expected: Row[]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((r, i) => {
    for (const k of Object.keys(expected[i])) {
      const a = r[k] === null ? NaN : r[k];
      const e = expected[i][k] === null ? NaN : expected[i][k];
      if (!close(a, e)) throw new Error(`row ${i} column ${k}: got ${a}, expected ${e}`);
    }
    expect(Object.keys(r)).toEqual(Object.keys(expected[i]));
  });
}

/** The groupby computed directly over rows: two-pass variance, rows with a missing key dropped. */
function direct(rows: Row[], by: string[], aggs: Aggs, ddof = 1): Row[] {
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    if (by.some((b) => r[b] === null)) continue;
    const key = JSON.stringify(by.map((b) => r[b]));
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(r);
  }
  const out = [...groups.values()].map((g) => {
    const row: Row = {};
    for (const b of by) row[b] = g[0][b];
    for (const [name, [col, agg]] of Object.entries(aggs)) {
      const vals = g.map((r) => r[col]).filter((v) => v !== null) as (number | string)[];
      const nums = vals as number[];
      const mean = nums.reduce((s, v) => s + v, 0) / nums.length;
      const varr = nums.length - ddof > 0 ? nums.reduce((s, v) => s + (v - mean) ** 2, 0) / (nums.length - ddof) : NaN;
      const sorted = [...vals].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      row[name] = {
        count: vals.length,
        sum: nums.reduce((s, v) => s + v, 0),
        mean,
        var: varr,
        std: Math.sqrt(varr),
        min: sorted[0] ?? null,
        max: sorted[sorted.length - 1] ?? null,
      }[agg]!;
    }
    return row;
  });
  return out.sort((a, b) => {
    for (const k of by) if (a[k] !== b[k]) return (a[k] as number) < (b[k] as number) ? -1 : 1;
    return 0;
  });
}

/** A left or inner join computed with two loops. */
function nestedLoop(left: Row[], right: Row[], on: string, how: 'inner' | 'left'): Row[] {
  const lcols = Object.keys(left[0]).filter((c) => c !== on);
  const rcols = Object.keys(right[0]).filter((c) => c !== on);
  const name = (c: string, side: 'x' | 'y') => ((side === 'x' ? rcols : lcols).includes(c) ? `${c}_${side}` : c);
  const out: Row[] = [];
  for (const l of left) {
    const matches = l[on] === null ? [] : right.filter((r) => r[on] === l[on]);
    const emit = (r: Row | undefined) => {
      const row: Row = { [on]: l[on] };
      for (const c of lcols) row[name(c, 'x')] = l[c];
      for (const c of rcols) row[name(c, 'y')] = r ? r[c] : null;
      out.push(row);
    };
    matches.forEach(emit);
    if (matches.length === 0 && how === 'left') emit(undefined);
  }
  return out;
}

describe('building and reading frames', () => {
  it('from_records infers float64 and string columns, null is missing, and to_records gives the rows back', () => {
    const rows: Row[] = [
      { a: 1, b: 'x' },
      { a: null, b: null },
      { a: 2.5, c: 3 },
    ];
    const f = fromRows(rows);
    expect(f.names).toEqual(['a', 'b', 'c']);
    expect(f.column('a')).toBeInstanceOf(Float64Array);
    expect(f.column('b')).toEqual(['x', null, null]);
    expect(call('frame.len', [f])).toBe(3);
    expect(call('frame.columns', [f])).toEqual(['a', 'b', 'c']);
    expect(records(f)).toEqual([
      { a: 1, b: 'x', c: null },
      { a: null, b: null, c: null },
      { a: 2.5, b: null, c: 3 },
    ]);
  });

  it('from_columns keeps typed arrays as they are and checks lengths and types', () => {
    const f = call('frame.from_columns', [{ i: Int32Array.of(1, 2), s: ['p', 'q'], x: [0.5, null] }]);
    expect(f.column('i')).toBeInstanceOf(Int32Array);
    expect(records(f)).toEqual([
      { i: 1, s: 'p', x: 0.5 },
      { i: 2, s: 'q', x: null },
    ]);
    fails('frame.from_columns', [{ a: [1, 2], b: [1] }], /Column "b" has 1 rows, the others 2/);
    fails(
      'frame.from_columns',
      [{ a: [1, 'x'] }],
      /columns\["a"\]\[1\] is the string "x" but earlier values are numbers/,
    );
    fails('frame.from_columns', [{ a: new BigInt64Array(2) }], /BigInt64Array; use a Float64Array/);
    fails('frame.from_records', [[{ a: true }]], /column "a"\[0\] is boolean true; a frame holds numbers and strings/);
    fails('frame.from_records', [[{ a: 1 }, 5]], /rows\[1\] is number 5; each row is an object/);
  });

  it('the JSON form round-trips, ops accept it, and bad forms say what to fix', () => {
    const f = fromRows([
      { a: 1, s: 'x' },
      { a: null, s: null },
    ]);
    const json = JSON.parse(JSON.stringify(f));
    expect(json).toEqual({ $frame: { columns: { a: [1, null], s: ['x', null] } } });
    expect(records(frameFromJSON(json))).toEqual(records(f));
    expect(call('frame.len', [json])).toBe(2);
    expect(() => frameFromJSON({ $frame: { cols: {} } })).toThrow(/unknown field "cols"; it holds only "columns"/);
    expect(() => frameFromJSON({ $frame: { columns: { a: [1], b: [1, 2] } } })).toThrow(
      /Column "b" has 2 rows, the others 1/,
    );
    expect(() => frameFromJSON({ $frame: { columns: { a: [{}] } } })).toThrow(
      /\$frame\.columns\["a"\]\[0\] is an object/,
    );
    fails('frame.len', [{ $frame: [] }], /f: \$frame must be an object/);
    fails('frame.len', [[1, 2]], /f must be a frame/);
    const proto = call('frame.from_columns', [JSON.parse('{"__proto__": [1], "b": ["x"]}')]);
    expect(proto.names).toEqual(['__proto__', 'b']);
    expect(JSON.parse(JSON.stringify(proto))).toEqual(
      JSON.parse('{"$frame": {"columns": {"__proto__": [1], "b": ["x"]}}}'),
    );
    expect(Object.keys(records(proto)[0])).toEqual(['__proto__', 'b']);
  });

  it('arguments bind by position or by name, with clear errors', () => {
    const f = fromRows([{ a: 2 }, { a: 1 }]);
    expect(records(call('frame.sort_values', [f], { by: 'a', ascending: false }))).toEqual([{ a: 2 }, { a: 1 }]);
    fails('frame.sort_values', [f], /has no argument "asc": frame.sort_values\(f, by, ascending\?\)/, {
      by: 'a',
      asc: true,
    });
    fails('frame.sort_values', [f], /argument 2 \(by\) is missing/);
    fails('frame.head', [f, 1], /"n" is given both by position and by name/, { n: 1 });
  });

  it('every op is named frame.*, described, and registers once', () => {
    const reg = new OpRegistry();
    for (const op of frameOps) {
      expect(op.name).toMatch(/^frame\./);
      expect(op.description.startsWith(`${op.name}(`)).toBe(true);
      reg.register(op);
    }
    expect(reg.list().length).toBe(frameOps.length);
  });
});

describe('frame.filter', () => {
  const rows = sampleRows(300, 1);
  const f = fromRows(rows);
  const cases: [unknown, (r: Row) => boolean][] = [
    [['k', '==', 3], (r) => r.k === 3],
    [['k', '!=', 3], (r) => r.k !== 3],
    [['x', '<', 1050], (r) => r.x !== null && (r.x as number) < 1050],
    [['x', '<=', 1050], (r) => r.x !== null && (r.x as number) <= 1050],
    [['y', '>', 0], (r) => (r.y as number) > 0],
    [['y', '>=', 0], (r) => (r.y as number) >= 0],
    [['x', '!=', 1050], () => true],
    [['s', 'in', ['a', 'é']], (r) => r.s === 'a' || r.s === 'é'],
    [['k', 'not_in', [0, 1, 2]], (r) => ![0, 1, 2].includes(r.k as number)],
    [['x', '==', null], (r) => r.x === null],
    [['x', '!=', null], (r) => r.x !== null],
    [['x', 'in', [null]], (r) => r.x === null],
    [['s', '>', 'b'], (r) => (r.s as string) > 'b'],
    [
      ['and', ['k', '>', 1], ['y', '<', 10], ['s', '!=', 'c']],
      (r) => (r.k as number) > 1 && (r.y as number) < 10 && r.s !== 'c',
    ],
    [['or', ['k', '==', 0], ['not', ['y', '<', 20]]], (r) => r.k === 0 || !((r.y as number) < 20)],
    [
      ['not', ['and', ['x', '>', 1020], ['x', '<', 1080]]],
      (r) => !(r.x !== null && (r.x as number) > 1020 && (r.x as number) < 1080),
    ],
  ];
  for (const [p, test] of cases) {
    it(`${JSON.stringify(p)} keeps the rows a plain filter keeps`, () => {
      expect(records(call('frame.filter', [f, p]))).toEqual(rows.filter(test));
    });
  }

  it('a column named like a combinator is still a column', () => {
    const g = fromRows([{ and: 1 }, { and: 2 }]);
    expect(records(call('frame.filter', [g, ['and', '>', 1]]))).toEqual([{ and: 2 }]);
  });

  it('bad predicates name what to fix', () => {
    fails('frame.filter', [f, ['age', '>', 3]], /No column "age"; the columns are "id", "k", "s", "x", "y"/);
    fails(
      'frame.filter',
      [f, ['k', '>', '3']],
      /predicate\[2\] must be a number \(the column holds numbers\), got the string "3"/,
    );
    fails(
      'frame.filter',
      [f, ['k', '~', 3]],
      /predicate must be a predicate \(\[column, op, value\] with op one of ==/,
    );
    fails('frame.filter', [f, ['and', ['k', '>', 1], 'x']], /must be a predicate/);
    fails('frame.filter', [f, ['x', '<', null]], /null \(missing\) can only be compared with == or !=/);
    fails('frame.filter', [f, ['s', 'in', 'a']], /in takes a list of values/);
  });
});

describe('frame.assign', () => {
  it('evaluates nested arithmetic over columns, in order, and replaces columns', () => {
    const rows = sampleRows(50, 2);
    const f = fromRows(rows);
    const out = call('frame.assign', [
      f,
      {
        z: ['/', ['+', { col: 'x' }, ['*', 2, { col: 'y' }]], ['-', { col: 'k' }, 3]],
        w: ['*', { col: 'z' }, 0.5],
        y: 1,
      },
    ]);
    const expected = rows.map((r) => {
      const z = r.x === null ? null : ((r.x as number) + 2 * (r.y as number)) / ((r.k as number) - 3);
      const w = z === null ? null : z * 0.5;
      const fix = (v: number | null) => (v === null || Number.isNaN(v) ? null : v);
      return { ...r, y: 1, z: fix(z), w: fix(w) };
    });
    expect(records(out)).toEqual(expected);
  });

  it('rejects string columns and malformed expressions', () => {
    const f = fromRows([{ a: 1, s: 'x' }]);
    fails('frame.assign', [f, { b: { col: 's' } }], /Column "s" holds strings; a number column is needed here/);
    fails(
      'frame.assign',
      [f, { b: ['%', 1, 2] }],
      /columns\["b"\] must be a number, \{"col": name\}, or \[op, expr, expr\]/,
    );
    fails('frame.assign', [f, { b: ['toString', 1, 2] }], /columns\["b"\] must be a number/);
    fails('frame.assign', [f, { b: 'a' }], /columns\["b"\] must be a number, \{"col": name\}/);
    fails('frame.assign', [f, [1]], /columns must be an object \{newColumn: expr\}/);
  });
});

describe('groupby: partial, combine, finalize', () => {
  const AGGS: Aggs = {
    n: ['x', 'count'],
    total: ['x', 'sum'],
    avg: ['x', 'mean'],
    sd: ['x', 'std'],
    v: ['x', 'var'],
    lo: ['x', 'min'],
    hi: ['x', 'max'],
    ymax: ['y', 'max'],
    smin: ['s', 'min'],
    scount: ['s', 'count'],
  };

  const rows = sampleRows(2000, 3);
  rows[5].k = null;
  rows[6].s = null;
  const sizes = [1, 7, 0, 300, 1193, 499];

  for (const by of [['k'], ['s', 'k']]) {
    it(`by ${JSON.stringify(by)}: a tree of combines over uneven partitions equals the direct computation (1e-12 relative)`, () => {
      const aggs = by.includes('s') ? Object.fromEntries(Object.entries(AGGS).filter(([, [c]]) => c !== 's')) : AGGS;
      const partials = partitions(rows, sizes).map((p) => call('frame.groupby_partial', [p, by, aggs]));
      const left = call('frame.groupby_combine', [partials.slice(0, 3), by, aggs]);
      const right = call('frame.groupby_combine', [partials.slice(3), by, aggs]);
      const root = call('frame.groupby_combine', [[left, right], by, aggs]);
      const result = call('frame.groupby_finalize', [root, by, aggs]);
      expectRowsClose(records(result), direct(rows, by, aggs));
      expectRowsClose(records(call('frame.groupby_agg', [fromRows(rows), by, aggs])), direct(rows, by, aggs));
    });
  }

  it('ddof 0 gives the population variance, and a group of one has NaN sample variance', () => {
    const aggs: Aggs = { v: ['x', 'var'], sd: ['x', 'std'] };
    const parts = partitions(rows, sizes).map((p) => call('frame.groupby_partial', [p, 'k', aggs]));
    const result = call('frame.groupby_finalize', [call('frame.groupby_combine', [parts, 'k', aggs]), 'k', aggs], {});
    expectRowsClose(records(result), direct(rows, ['k'], aggs));
    const pop = call('frame.groupby_finalize', [call('frame.groupby_combine', [parts, 'k', aggs]), 'k', aggs, 0]);
    expectRowsClose(records(pop), direct(rows, ['k'], aggs, 0));
    const one = call('frame.groupby_agg', [fromRows([{ k: 1, x: 5 }]), 'k', aggs]);
    expect(records(one)).toEqual([{ k: 1, v: null, sd: null }]);
  });

  it('mismatched partials, string sums and bad aggs say what to fix', () => {
    const f = fromRows(rows);
    const p = call('frame.groupby_partial', [f, 'k', { m: ['x', 'mean'] }]);
    fails(
      'frame.groupby_combine',
      [[p], 'k', { v: ['x', 'var'] }],
      /partial 0 has no column "m2\(x\)": give groupby_partial, groupby_combine and groupby_finalize the same by and aggs/,
    );
    fails(
      'frame.groupby_partial',
      [f, 'k', { m: ['s', 'mean'] }],
      /column "s" holds strings: only count, min and max apply to it/,
    );
    fails(
      'frame.groupby_partial',
      [f, 'k', { m: ['x', 'median'] }],
      /aggs\["m"\] must be \[column, agg\] with agg one of sum, mean, count, min, max, std, var/,
    );
    fails('frame.groupby_partial', [f, 'k', {}], /aggs must be an object mapping output names to \[column, agg\]/);
    fails('frame.groupby_partial', [f, 'nope', { m: ['x', 'mean'] }], /No column "nope"/);
    fails('frame.groupby_partial', [f, 'k', { k: ['x', 'mean'] }], /the output name is also a group column/);
  });

  it('the seed example: groupby("age").mean() over 4 partitions of a 1024-row frame', () => {
    const rnd = random(2024);
    const data = Array.from({ length: 1024 }, () => ({ age: Math.floor(rnd() * 100), grade: Math.floor(rnd() * 100) }));
    const parts = [0, 1, 2, 3].map((i) => call('frame.from_records', [data.slice(i * 256, (i + 1) * 256)]));
    const aggs = { grade: ['grade', 'mean'] };
    const partials = parts.map((p) => call('frame.groupby_partial', [p, 'age', aggs]));
    const result = call('frame.groupby_finalize', [
      call('frame.groupby_combine', [partials, 'age', aggs]),
      'age',
      aggs,
    ]);

    const sums = new Map<number, [number, number]>();
    for (const { age, grade } of data) {
      const s = sums.get(age) ?? [0, 0];
      sums.set(age, [s[0] + grade, s[1] + 1]);
    }
    const expected = [...sums.entries()].sort((a, b) => a[0] - b[0]).map(([age, [s, n]]) => ({ age, grade: s / n }));
    expect(expected.length).toBeGreaterThan(90);
    expectRowsClose(records(result), expected);
  });
});

describe('sort, head, concat', () => {
  const rows = sampleRows(400, 4);
  const f = fromRows(rows);
  const cmp = (k: string, dir: number) => (a: Row, b: Row) => {
    const x = a[k];
    const y = b[k];
    if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
    return x < y ? -dir : x > y ? dir : 0;
  };

  it('sorts by one numeric column, stably, missing last, both ways', () => {
    expect(records(call('frame.sort_values', [f, 'x']))).toEqual([...rows].sort(cmp('x', 1)));
    expect(records(call('frame.sort_values', [f, 'x', false]))).toEqual([...rows].sort(cmp('x', -1)));
    expect(records(call('frame.sort_values', [f, 'y']))).toEqual([...rows].sort(cmp('y', 1)));
    expect(records(call('frame.sort_values', [f, 'k', false]))).toEqual([...rows].sort(cmp('k', -1)));
  });

  it('sorts by several columns with one direction each, strings included', () => {
    const both = (a: Row, b: Row) => cmp('s', -1)(a, b) || cmp('y', 1)(a, b);
    expect(records(call('frame.sort_values', [f, ['s', 'y'], [false, true]]))).toEqual([...rows].sort(both));
    fails('frame.sort_values', [f, ['s', 'y'], [true]], /ascending must be true, false, or a list of 2 booleans/);
  });

  it('head takes the first n rows', () => {
    expect(records(call('frame.head', [f]))).toEqual(rows.slice(0, 5));
    expect(records(call('frame.head', [f, 3]))).toEqual(rows.slice(0, 3));
    expect(call('frame.len', [call('frame.head', [f, 10_000])])).toBe(400);
    expect(call('frame.columns', [call('frame.head', [f, 0])])).toEqual(['id', 'k', 's', 'x', 'y']);
    fails('frame.head', [f, -1], /n must be an integer from 0/);
  });

  it('concat joins rows in order, keeps a shared column type and checks columns', () => {
    const parts = partitions(rows, [100, 0, 250, 50]);
    expect(records(call('frame.concat', [parts]))).toEqual(rows);
    const a = call('frame.from_columns', [{ i: Int32Array.of(1), s: ['x'] }]);
    const b = call('frame.from_columns', [{ s: ['y'], i: Int32Array.of(2) }]);
    expect(call('frame.concat', [[a, b]]).column('i')).toEqual(Int32Array.of(1, 2));
    const c = call('frame.from_columns', [{ i: [2.5], s: ['z'] }]);
    expect(call('frame.concat', [[a, c]]).column('i')).toEqual(Float64Array.of(1, 2.5));
    // An empty part read back from the wire has a number column where the others hold strings: the others decide.
    const empty = call('frame.from_columns', [{ i: Int32Array.of(), s: new Float64Array(0) }]);
    expect(call('frame.concat', [[empty, a]]).column('s')).toEqual(['x']);
    fails(
      'frame.concat',
      [[a, call('frame.from_columns', [{ i: Int32Array.of(3), s: Float64Array.of(1) }])]],
      /holds numbers in some frames and strings in others/,
    );
    fails('frame.concat', [[a, fromRows([{ i: 1 }])]], /Frame 1 has other columns than frame 0 \(missing "s"\)/);
    fails('frame.concat', [[]], /frames is empty/);
  });
});

describe('frame.shuffle_group', () => {
  /** FNV-1a over bytes then murmur3 fmix32, as documented: an independent implementation. */
  function referenceHash(v: number | string, k: number): number {
    const bytes =
      typeof v === 'number' ? new Uint8Array(new Float64Array([v === 0 ? 0 : v]).buffer) : new TextEncoder().encode(v);
    let h = 0x811c9dc5;
    for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return (h >>> 0) % k;
  }

  it('the hash is the documented one, for numbers and strings', () => {
    for (const v of [
      0,
      -0,
      1,
      -1,
      3.5,
      1e300,
      -Infinity,
      123456789,
      '',
      'a',
      'é',
      '🙂',
      'weft',
      'x'.repeat(100),
      '\ud800',
    ]) {
      expect(hashPart(v, 97)).toBe(referenceHash(v, 97));
    }
    expect(hashPart(-0, 1000)).toBe(hashPart(0, 1000));
    expect(hashPart(NaN, 7)).toBe(0);
    expect(hashPart(null, 7)).toBe(0);
  });

  it('splits into exactly k parts: each row once, equal keys together, across frames and column types', () => {
    const rows = sampleRows(1000, 5);
    const f = fromRows(rows);
    for (const col of ['k', 's', 'y']) {
      const parts: Frame[] = call('frame.shuffle_group', [f, col, 13]);
      expect(parts).toHaveLength(13);
      const seen = parts.flatMap((p, j) => records(p).map((r) => ({ r, j })));
      expect(seen.map(({ r }) => r.id).sort((a, b) => (a as number) - (b as number))).toEqual(rows.map((r) => r.id));
      const partOfKey = new Map<unknown, number>();
      for (const { r, j } of seen) {
        if (partOfKey.has(r[col])) expect(partOfKey.get(r[col])).toBe(j);
        partOfKey.set(r[col], j);
        expect(j).toBe(referenceHash(r[col] as number | string, 13));
      }
      // parts keep the input's row order
      for (const p of parts) {
        const ids = records(p).map((r) => r.id as number);
        expect(ids).toEqual([...ids].sort((a, b) => a - b));
      }
    }
    // an int32 key and a float64 key with the same value land in the same part
    const ints = call('frame.shuffle_group', [
      call('frame.from_columns', [{ k: Int32Array.of(1, 2, 3, 4, 5, 6) }]),
      'k',
      4,
    ]) as Frame[];
    const floats = call('frame.shuffle_group', [
      call('frame.from_columns', [{ k: [1, 2, 3, 4, 5, 6] }]),
      'k',
      4,
    ]) as Frame[];
    expect(ints.map((p) => records(p))).toEqual(floats.map((p) => records(p)));
  });

  it('with boundaries, part j holds [b(j-1), b(j)); missing values go last', () => {
    const rows = sampleRows(500, 6);
    const f = fromRows(rows);
    const b = [1020, 1050, 1050, 1090];
    const parts: Frame[] = call('frame.shuffle_group', [f, 'x', 5, b]);
    expect(parts).toHaveLength(5);
    const bounds = [-Infinity, ...b, Infinity];
    const expected = bounds
      .slice(0, 5)
      .map((lo, j) =>
        rows.filter((r) => (r.x === null ? j === 4 : (r.x as number) >= lo && (r.x as number) < bounds[j + 1])),
      );
    expect(parts.map(records)).toEqual(expected);
    expect(call('frame.len', [parts[2]])).toBe(0);
    const byS: Frame[] = call('frame.shuffle_group', [f, 's', 3, ['b', 'c']]);
    expect(byS.map(records)).toEqual([
      rows.filter((r) => (r.s as string) < 'b'),
      rows.filter((r) => r.s === 'b'),
      rows.filter((r) => (r.s as string) >= 'c'),
    ]);
    fails(
      'frame.shuffle_group',
      [f, 'x', 5, [1, 2]],
      /boundaries must be a sorted list of k - 1 = 4 values, got 2 values/,
    );
    fails(
      'frame.shuffle_group',
      [f, 'x', 3, [2, 1]],
      /boundaries must be sorted: boundaries\[1\] is less than boundaries\[0\]/,
    );
    fails('frame.shuffle_group', [f, 'x', 2, ['a']], /boundaries\[0\] must be a number/);
    fails('frame.shuffle_group', [f, 'x', 0], /k must be an integer from 1 to 100000/);
  });

  it('set_index: quantiles -> boundaries -> range shuffle -> sort gives balanced, globally sorted parts', () => {
    const rnd = random(7);
    const rows = Array.from({ length: 4000 }, (_, i) => ({ id: i, v: Math.floor(rnd() * 100000) }));
    const parts = partitions(rows, [300, 2200, 1000, 500]);
    const q = [0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95];
    const quantiles = parts.map((p) => call('frame.quantiles', [p, 'v', q]));
    const counts = parts.map((p) => call('frame.len', [p]));
    const b = call('frame.boundaries', [quantiles, 4, counts]);
    expect(b).toHaveLength(3);
    const sorted = rows.map((r) => r.v).sort((x, y) => x - y);
    b.forEach((x: number, i: number) => expect(Math.abs(x - sorted[((i + 1) * sorted.length) / 4])).toBeLessThan(4000));
    const split = parts.map((p) => call('frame.shuffle_group', [p, 'v', 4, b]) as Frame[]);
    const out = [0, 1, 2, 3].map((j) =>
      call('frame.sort_values', [call('frame.concat', [split.map((s) => s[j])]), 'v']),
    );
    for (const o of out) expect(Math.abs(call('frame.len', [o]) - 1000)).toBeLessThan(150);
    expect(out.flatMap((o) => records(o).map((r) => r.v))).toEqual(sorted);
  });

  it('quantiles interpolate numbers, take the lower string, and ignore missing values', () => {
    const f = fromRows([
      { v: 4, s: 'd' },
      { v: null, s: null },
      { v: 1, s: 'a' },
      { v: 3, s: 'c' },
      { v: 2, s: 'b' },
    ]);
    expect(call('frame.quantiles', [f, 'v', [0, 0.5, 0.9, 1]])).toEqual([1, 2.5, 3.7, 4]);
    expect(call('frame.quantiles', [f, 's', [0, 0.5, 1]])).toEqual(['a', 'b', 'd']);
    expect(call('frame.quantiles', [call('frame.head', [f, 0]), 'v', [0.5]])).toEqual([]);
    fails('frame.quantiles', [f, 'v', [0.5, 0.1]], /q must be a non-empty sorted list of probabilities in \[0, 1\]/);
    expect(call('frame.boundaries', [[[], ['a', 'b', 'c', 'd']], 2])).toEqual(['b']);
    fails('frame.boundaries', [[[], []], 2], /all quantile lists are empty/);
    fails('frame.boundaries', [[[1], [2]], 2, [1]], /counts must be a list of 2 row counts/);
    expect(call('frame.boundaries', [[[1, 2]], 1])).toEqual([]);
  });
});

describe('frame.merge', () => {
  const rnd = random(8);
  const left: Row[] = Array.from({ length: 300 }, (_, i) => ({
    key: i % 37 === 0 ? null : Math.floor(rnd() * 60),
    lv: i,
    shared: rnd(),
  }));
  const right: Row[] = Array.from({ length: 120 }, (_, i) => ({ key: Math.floor(rnd() * 40), rv: `r${i}`, shared: i }));

  for (const how of ['inner', 'left'] as const) {
    it(`${how} join equals a nested-loop join (duplicates both sides, missing keys, _x/_y suffixes)`, () => {
      const got = records(call('frame.merge', [fromRows(left), fromRows(right), 'key', how]));
      expect(got).toEqual(nestedLoop(left, right, 'key', how));
    });

    it(`${how} join distributed: shuffle both sides into k parts and merge part j with part j`, () => {
      const lparts = partitions(left, [100, 200]).map((p) => call('frame.shuffle_group', [p, 'key', 5]) as Frame[]);
      const rparts = partitions(right, [70, 50]).map((p) => call('frame.shuffle_group', [p, 'key', 5]) as Frame[]);
      const joined = [0, 1, 2, 3, 4].map((j) =>
        call(
          'frame.merge',
          [call('frame.concat', [lparts.map((s) => s[j])]), call('frame.concat', [rparts.map((s) => s[j])]), 'key'],
          { how },
        ),
      );
      const key = (r: Row) => JSON.stringify(r);
      const got = joined.flatMap(records).map(key).sort();
      expect(got).toEqual(nestedLoop(left, right, 'key', how).map(key).sort());
    });
  }

  it('joins on several columns, and rejects bad arguments', () => {
    const l = fromRows([
      { a: 1, b: 'x', v: 1 },
      { a: 1, b: 'y', v: 2 },
    ]);
    const r = fromRows([{ a: 1, b: 'y', w: 3 }]);
    expect(records(call('frame.merge', [l, r, ['a', 'b']]))).toEqual([{ a: 1, b: 'y', v: 2, w: 3 }]);
    fails('frame.merge', [l, r, 'a', 'outer'], /how must be "inner" or "left", got the string "outer"/);
    fails(
      'frame.merge',
      [l, fromRows([{ a: 'x' }]), 'a'],
      /key column "a" holds numbers on the left and strings on the right/,
    );
    fails('frame.merge', [l, fromRows([{ c: 1 }]), 'a'], /No column "a"; the columns are "c"/);
  });
});

describe('the stored form (MessagePack extension)', () => {
  addExtension({ Class: Frame, type: FRAME_EXTENSION_TYPE, pack: framePack, unpack: frameUnpack });
  const packr = new Packr({ useRecords: false, moreTypes: true, mapsAsObjects: true });

  it('round-trips a frame with typed arrays kept binary, strings, nulls and NaN', () => {
    const x = Float64Array.of(1.5, NaN, -0, 1e300);
    const f = call('frame.from_columns', [
      { i: Int32Array.of(1, -2, 3, 4), x, s: ['a', null, 'é', '🙂'], u: Uint8Array.of(0, 1, 2, 255) },
    ]);
    const bytes = packr.pack(f);
    expect(Buffer.from(bytes).includes(Buffer.from(x.buffer))).toBe(true);
    const back = packr.unpack(bytes) as Frame;
    expect(back).toBeInstanceOf(Frame);
    expect(back.names).toEqual(['i', 'x', 's', 'u']);
    expect(back.column('i')).toEqual(Int32Array.of(1, -2, 3, 4));
    expect(back.column('u')).toBeInstanceOf(Uint8Array);
    expect(Object.is((back.column('x') as Float64Array)[2], -0)).toBe(true);
    expect(records(back)).toEqual(records(f));
    expect(bytes.length).toBeLessThan(200);
  });

  it('round-trips the k parts of a shuffle, empty parts and frames without columns', () => {
    const parts = call('frame.shuffle_group', [fromRows(sampleRows(50, 9)), 'k', 10]);
    const back = packr.unpack(packr.pack(parts)) as Frame[];
    expect(back.map(records)).toEqual(parts.map(records));
    expect((packr.unpack(packr.pack(new Frame([], 3))) as Frame).length).toBe(3);
  });

  it("leaves msgpackr's own extensions alone (BigInts wider than 64 bits use type 0x42)", () => {
    const big = 2n ** 100n;
    expect(FRAME_EXTENSION_TYPE).not.toBe(0x42);
    expect((packr.unpack(packr.pack({ big })) as { big: bigint }).big).toBe(big);
  });

  it('the payload is standard MessagePack: a frame inside an array is one self-contained ext', () => {
    const bytes = packr.pack([call('frame.from_columns', [{ x: Float64Array.of(1.5, 2), s: ['a', null] }]), 7]);
    expect(bytes[0]).toBe(0x92); // an array of two values
    expect(bytes[1]).toBe(0xc7); // ext 8: one length byte, then the type
    const length = bytes[2];
    expect(bytes[3]).toBe(FRAME_EXTENSION_TYPE);
    expect(bytes[4 + length]).toBe(7); // the array's second value comes right after the payload
    const payload = new Unpackr({ useRecords: false }).unpack(bytes.subarray(4, 4 + length)) as any;
    expect(payload).toEqual({
      v: 1,
      n: 2,
      names: ['x', 's'],
      cols: [{ dtype: 'float64', data: expect.any(Uint8Array) }, ['a', null]],
    });
    expect(Buffer.from(payload.cols[0].data)).toEqual(Buffer.from(Float64Array.of(1.5, 2).buffer));
  });

  it('frameToWire / frameFromWire (msgpackr write/read form) round-trip too', () => {
    const f = call('frame.from_columns', [{ i: Int16Array.of(-1, 2), s: ['a', null] }]);
    const back = frameFromWire(packr.unpack(packr.pack(frameToWire(f))));
    expect(back.column('i')).toEqual(Int16Array.of(-1, 2));
    expect(records(back)).toEqual(records(f));
  });

  it('frameFromWire rejects what is not a stored frame', () => {
    expect(() => frameUnpack(Uint8Array.of(0x92, 0x01))).toThrow(/payload is not valid MessagePack/);
    const col = (c: unknown) => ({ v: 1, n: 1, names: ['a'], cols: [c] });
    expect(() => frameFromWire(col({ dtype: 'float16', data: new Uint8Array(2) }))).toThrow(
      /Column "a" has dtype the string "float16"; use one of float64, float32, int32/,
    );
    expect(() => frameFromWire(col({ dtype: 'int32', data: new Uint8Array(3) }))).toThrow(
      /3 bytes is not a whole number of int32 values/,
    );
    expect(() => frameFromWire(col({ dtype: 'int32', data: [1] }))).toThrow(/data must be the elements' bytes \(bin\)/);
    expect(() => frameFromWire({ v: 2 })).toThrow(/Not a stored frame \(version 1\)/);
    expect(() => frameFromWire({ v: 1, n: 1, names: ['a'], cols: [] })).toThrow(/names and cols of the same length/);
    expect(() => frameFromWire({ v: 1, n: 2, names: ['a'], cols: [[1]] })).toThrow(
      /Column "a" has 1 rows, the others 2/,
    );
    expect(() => frameFromWire({ v: 1, n: -1, names: [], cols: [] })).toThrow(/needs n \(a row count\)/);
    expect(() => frameFromWire({ v: 1, n: 1, names: ['a'], cols: [{}] })).toThrow(
      /Column "a" is an object; a column is a numeric typed array or an array of strings/,
    );
    expect(() => frameFromWire({ v: 1, n: 2, names: ['a'], cols: [['x', 2]] })).toThrow(
      /Column "a"\[1\] is number 2 but earlier values are strings/,
    );
    expect(frameFromWire({ v: 1, n: 2, names: ['a'], cols: [[1.5, null]] }).column('a')).toEqual(
      Float64Array.of(1.5, NaN),
    );
  });
});

describe('the example graphs of docs/dataframes.md', () => {
  const md = readFileSync(new URL('../../docs/dataframes.md', import.meta.url), 'utf8');
  const examples = md
    .slice(md.indexOf('## Example graphs'))
    .split('```json\n')
    .slice(1)
    .map((block) => JSON.parse(block.slice(0, block.indexOf('```'))) as Record<string, any>);

  /** Runs a graph in weft's JSON format with the frame ops, in process. */
  function runGraph(graph: Record<string, any>, data: Record<string, Frame>): Record<string, any> {
    const done: Record<string, any> = { ...data };
    const value = (node: any): any => {
      if (Array.isArray(node)) return node.map(value);
      if (typeof node !== 'object' || node === null) return node;
      if ('$ref' in node) return node.index === undefined ? get(node.$ref) : get(node.$ref)[node.index];
      if ('$literal' in node) return node.$literal;
      if ('$op' in node) {
        const kwargs = Object.fromEntries(Object.entries(node.kwargs ?? {}).map(([k, v]) => [k, value(v)]));
        const out = call(node.$op, value(node.args ?? []), kwargs);
        if (node.returns !== undefined) expect(out).toHaveLength(node.returns);
        return out;
      }
      return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, value(v)]));
    };
    const get = (key: string): any => (key in done ? done[key] : (done[key] = value(graph[key])));
    for (const key of Object.keys(graph)) get(key);
    return done;
  }

  const rnd = random(11);
  const rowsOf = (n: number, base: number): Row[] =>
    Array.from({ length: n }, (_, i) => ({
      id: base + i,
      age: Math.floor(rnd() * 60),
      grade: Math.floor(rnd() * 100),
      key: Math.floor(rnd() * 30),
      v: rnd() < 0.02 ? null : Math.floor(rnd() * 1e6),
    }));
  const parts = [rowsOf(250, 0), rowsOf(40, 1000), rowsOf(400, 2000), rowsOf(0, 3000)];
  const sides = [rowsOf(120, 5000), rowsOf(80, 6000), rowsOf(30, 7000), rowsOf(25, 8000)];
  const data: Record<string, Frame> = {
    ...Object.fromEntries(
      parts.map((p, i) => [`part-${i}`, p.length ? fromRows(p) : call('frame.head', [fromRows(parts[0]), 0])]),
    ),
    'left-0': fromRows(sides[0]),
    'left-1': fromRows(sides[1]),
    'right-0': fromRows(sides[2]),
    'right-1': fromRows(sides[3]),
  };
  const outputs = (done: Record<string, any>, prefix: string) =>
    Object.keys(done)
      .filter((k) => k.startsWith(prefix))
      .sort()
      .map((k) => records(done[k]));
  const byId = (a: Row, b: Row) => (a.id as number) - (b.id as number);

  it("there are five, and weft's graph parser accepts each", () => {
    expect(examples).toHaveLength(5);
    for (const g of examples) {
      const withData = { ...Object.fromEntries(Object.keys(data).map((k) => [k, 0])), ...g };
      expect(() => planGraph(parseGraph(withData), Object.keys(g))).not.toThrow();
    }
  });

  it('filter and assign', () => {
    const done = runGraph(examples[0], {});
    expect(records(done['scored-0'])).toEqual([{ age: 31, grade: 72, pct: 0.72 }]);
  });

  it('the groupby tree reduction equals the direct computation', () => {
    const aggs: Aggs = { mean: ['grade', 'mean'], std: ['grade', 'std'] };
    expectRowsClose(records(runGraph(examples[1], data).result), direct(parts.flat(), ['age'], aggs));
  });

  it('the hash shuffle puts every row in one output, keys not split', () => {
    const out = outputs(runGraph(examples[2], data), 'out-');
    expect(out).toHaveLength(3);
    expect(out.flat().sort(byId)).toEqual([...parts[0], ...parts[1]]);
    const keySets = out.map((o) => new Set(o.map((r) => r.key)));
    keySets.forEach((a, i) => keySets.slice(i + 1).forEach((b) => expect([...a].filter((k) => b.has(k))).toEqual([])));
  });

  it('the distributed merge equals a left join of the whole sides', () => {
    const got = outputs(runGraph(examples[3], data), 'joined-')
      .flat()
      .map((r) => JSON.stringify(r))
      .sort();
    expect(got).toEqual(
      nestedLoop([...sides[0], ...sides[1]], [...sides[2], ...sides[3]], 'key', 'left')
        .map((r) => JSON.stringify(r))
        .sort(),
    );
  });

  it('set_index gives the rows sorted by v across the outputs, missing last', () => {
    const out = outputs(runGraph(examples[4], data), 'sorted-').flat();
    const all = [...parts[0], ...parts[1]];
    const v = (r: Row) => (r.v === null ? Infinity : (r.v as number));
    expect(out.map((r) => r.v)).toEqual([...all].sort((a, b) => v(a) - v(b)).map((r) => r.v));
    expect(out.slice().sort(byId)).toEqual(all);
  });
});
