import { describe, expect, it } from 'vitest';
import {
  GraphError,
  defaultLimits,
  jsonPath,
  parseGraph,
  parseKeys,
  parseLayers,
  type Node,
} from '../../src/graph/index.ts';
import { graphError, ref, task } from './helpers.ts';

const lit = (value: unknown): Node => ({ kind: 'lit', value }) as Node;
const refNode = (key: string): Node => ({ kind: 'ref', key });

/** The one node of a single-key graph. */
function parseOne(raw: unknown): Node {
  return parseGraph({ k: raw }).get('k')!;
}

describe('parseGraph, the example in its doc comment', () => {
  it('parses a literal and a task referencing it', () => {
    const g = parseGraph({ x: 1, y: { $op: 'inc', args: [{ $ref: 'x' }] } });
    expect([...g]).toEqual([
      ['x', { kind: 'lit', value: 1 }],
      ['y', { kind: 'task', op: 'inc', args: [{ kind: 'ref', key: 'x' }], kwargs: null }],
    ]);
  });
});

describe('parseGraph node kinds', () => {
  it('parses a task with args and kwargs in the order given', () => {
    const node = parseOne({ $op: 'add', args: [1, ref('x')], kwargs: { scale: 2, offset: ref('y') } });
    expect(node).toEqual({
      kind: 'task',
      op: 'add',
      args: [lit(1), refNode('x')],
      kwargs: [
        ['scale', lit(2)],
        ['offset', refNode('y')],
      ],
    });
  });

  it('gives a task without args an empty args list and null kwargs', () => {
    expect(parseOne({ $op: 'now' })).toEqual({ kind: 'task', op: 'now', args: [], kwargs: null });
  });

  it('parses $ref into a ref node', () => {
    expect(parseOne({ $ref: 'x' })).toEqual({ kind: 'ref', key: 'x' });
  });

  it('parses $oid into an oid node', () => {
    expect(parseOne({ $oid: 'abc123' })).toEqual({ kind: 'oid', oid: 'abc123' });
  });

  it('keeps the value of $literal as data even when it looks like a node', () => {
    expect(parseOne({ $literal: { $op: 'inc', $ref: 'x', args: 'no' } })).toEqual(
      lit({ $op: 'inc', $ref: 'x', args: 'no' }),
    );
  });

  it('parses an array holding a reference into an array node', () => {
    expect(parseOne([1, ref('x')])).toEqual({ kind: 'array', items: [lit(1), refNode('x')] });
  });

  it('parses a plain object holding a reference into an object node', () => {
    expect(parseOne({ a: 1, b: ref('x') })).toEqual({
      kind: 'object',
      entries: [
        ['a', lit(1)],
        ['b', refNode('x')],
      ],
    });
  });

  it.each([
    ['a number', 1.5],
    ['zero', 0],
    ['a string', 'hello'],
    ['an empty string', ''],
    ['true', true],
    ['false', false],
    ['null', null],
  ])('parses %s into a literal', (_, value) => {
    expect(parseOne(value)).toEqual(lit(value));
  });

  it('accepts a task field order with $op not first', () => {
    expect(parseOne({ args: [1], kwargs: { n: 2 }, $op: 'f' })).toEqual({
      kind: 'task',
      op: 'f',
      args: [lit(1)],
      kwargs: [['n', lit(2)]],
    });
  });

  it('accepts kwargs names that start with "$"', () => {
    expect(parseOne({ $op: 'f', kwargs: { $ref: 'x' } })).toEqual({
      kind: 'task',
      op: 'f',
      args: [],
      kwargs: [['$ref', lit('x')]],
    });
  });
});

describe('parseGraph literal collapsing', () => {
  it('collapses an array of literals into one lit node', () => {
    expect(parseOne([1, 'a', null, [true, []]])).toEqual(lit([1, 'a', null, [true, []]]));
  });

  it('collapses a plain object of literals into one lit node', () => {
    expect(parseOne({ a: 1, b: { c: [2, 3] } })).toEqual(lit({ a: 1, b: { c: [2, 3] } }));
  });

  it('collapses a literal subtree holding a $literal escape into one lit node', () => {
    expect(parseOne({ data: [{ $literal: { $x: 1 } }, 2] })).toEqual(lit({ data: [{ $x: 1 }, 2] }));
  });

  it('collapses the literal parts of task arguments but keeps the parts holding references', () => {
    const node = parseOne(task('f', { a: [1, 2], b: { $literal: { $x: 1 } } }, [1, [2, ref('x')]]));
    expect(node).toEqual({
      kind: 'task',
      op: 'f',
      args: [
        lit({ a: [1, 2], b: { $x: 1 } }),
        { kind: 'array', items: [lit(1), { kind: 'array', items: [lit(2), refNode('x')] }] },
      ],
      kwargs: null,
    });
  });

  it('does not collapse an array holding a task', () => {
    expect(parseOne([1, task('now')])).toEqual({
      kind: 'array',
      items: [lit(1), { kind: 'task', op: 'now', args: [], kwargs: null }],
    });
  });
});

/** Asserts that parsing `graph` fails with invalid_graph at `path`. */
function expectInvalidAt(graph: unknown, path: string): void {
  const err = graphError(() => parseGraph(graph));
  expect(err.code).toBe('invalid_graph');
  expect(err.details.path).toBe(path);
  expect(err.message).toContain(path);
}

describe('parseGraph rejects malformed nodes with the key and JSON path', () => {
  it('rejects an unknown $marker at the top of a key', () => {
    expectInvalidAt({ x: 1, y: { $opp: 'inc' } }, '$["y"]');
    expect(graphError(() => parseGraph({ y: { $opp: 'inc' } })).details.key).toBe('y');
  });

  it('rejects an unknown $marker inside task args', () => {
    expectInvalidAt({ y: task('inc', { $foo: 1 }) }, '$["y"].args[0]');
  });

  it('rejects an unknown $marker inside a plain object, quoting a field that is not an identifier', () => {
    expectInvalidAt({ y: { 'a b': [0, { $refs: 'x' }] } }, '$["y"]["a b"][1]');
  });

  it('rejects an extra field next to $ref', () => {
    expectInvalidAt({ y: { $ref: 'x', extra: 1 } }, '$["y"].extra');
  });

  it('rejects a second marker next to $ref', () => {
    expectInvalidAt({ y: { $ref: 'x', $op: 'f' } }, '$["y"].$op');
  });

  it('rejects an extra field next to $oid', () => {
    expectInvalidAt({ y: [{ $oid: 'o1', key: 1 }] }, '$["y"][0].key');
  });

  it('rejects an extra field next to $literal', () => {
    expectInvalidAt({ y: { a: { $literal: 1, note: 'x' } } }, '$["y"].a.note');
  });

  it('rejects a $ref that is not a string', () => {
    expectInvalidAt({ y: task('f', { $ref: 3 }) }, '$["y"].args[0].$ref');
  });

  it('rejects an empty $oid', () => {
    expectInvalidAt({ y: { $oid: '' } }, '$["y"].$oid');
  });

  it('rejects an unknown task field', () => {
    expectInvalidAt({ y: { $op: 'inc', arg: [1] } }, '$["y"].arg');
  });

  it('rejects a $ref field inside a task', () => {
    expectInvalidAt({ y: { $op: 'inc', $ref: 'x' } }, '$["y"].$ref');
  });

  it.each([
    ['a number', 3],
    ['null', null],
    ['an array', ['inc']],
    ['an empty string', ''],
  ])('rejects $op given as %s', (_, op) => {
    expectInvalidAt({ y: { $op: op } }, '$["y"].$op');
  });

  it.each([
    ['an object', { 0: 1 }],
    ['a string', 'x'],
    ['a number', 1],
  ])('rejects args given as %s', (_, args) => {
    expectInvalidAt({ y: { $op: 'inc', args } }, '$["y"].args');
  });

  it.each([
    ['an array', [1]],
    ['a string', 'a'],
    ['null', null],
  ])('rejects kwargs given as %s', (_, kwargs) => {
    expectInvalidAt({ y: { $op: 'inc', kwargs } }, '$["y"].kwargs');
  });

  it('reports the path of a bad node inside kwargs', () => {
    expectInvalidAt({ y: { $op: 'f', kwargs: { 'n-1': { $bad: 1 } } } }, '$["y"].kwargs["n-1"]');
  });

  it.each([
    ['undefined', undefined],
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['a function', () => 1],
    ['a bigint', 1n],
    ['a symbol', Symbol('s')],
  ])('rejects %s as a non-JSON value', (_, value) => {
    expectInvalidAt({ y: task('f', value) }, '$["y"].args[0]');
  });

  it('rejects a non-JSON value at the top of a key', () => {
    expectInvalidAt({ y: undefined }, '$["y"]');
  });
});

describe('parseGraph rejects what is not a graph', () => {
  it('rejects an empty graph', () => {
    const err = graphError(() => parseGraph({}));
    expect(err.code).toBe('invalid_graph');
    expect(err.message).toMatch(/empty/);
  });

  it.each([
    ['an array', [1, 2]],
    ['an empty array', []],
    ['a string', '{"x": 1}'],
    ['null', null],
    ['a number', 1],
    ['undefined', undefined],
  ])('rejects %s as the graph', (_, raw) => {
    expect(graphError(() => parseGraph(raw)).code).toBe('invalid_graph');
  });
});

describe('parseGraph limits', () => {
  const small = { maxDepth: 2, maxKeyBytes: 3 };

  it('accepts nesting exactly maxDepth deep', () => {
    expect(parseGraph({ a: [[1]] }, small).get('a')).toEqual(lit([[1]]));
  });

  it('rejects nesting deeper than maxDepth with the path where it went too deep', () => {
    const err = graphError(() => parseGraph({ a: [[[1]]] }, small));
    expect(err.code).toBe('invalid_graph');
    expect(err.details).toEqual({ key: 'a', path: '$["a"][0][0][0]' });
  });

  it('counts plain objects towards the depth', () => {
    expect(graphError(() => parseGraph({ a: { x: { y: { z: 1 } } } }, small)).details.path).toBe('$["a"].x.y.z');
  });

  it('applies the depth limit even to literal data', () => {
    expect(graphError(() => parseGraph({ a: [[['deep']]] }, small)).code).toBe('invalid_graph');
  });

  it('accepts 64 nested arrays and rejects 65 with the default limits', () => {
    const nest = (n: number): unknown => (n === 0 ? 1 : [nest(n - 1)]);
    expect(defaultLimits.maxDepth).toBe(64);
    expect(parseGraph({ a: nest(64) }).get('a')!.kind).toBe('lit');
    expect(graphError(() => parseGraph({ a: nest(65) })).code).toBe('invalid_graph');
  });

  it('counts a task as one level, whether its arguments are in args or kwargs', () => {
    const nestArgs = (n: number): unknown => (n === 0 ? 1 : { $op: 'inc', args: [nestArgs(n - 1)] });
    const nestKw = (n: number): unknown => (n === 0 ? 1 : { $op: 'inc', kwargs: { x: nestKw(n - 1) } });
    expect(parseGraph({ a: nestArgs(64) }).get('a')!.kind).toBe('task');
    expect(parseGraph({ a: nestKw(64) }).get('a')!.kind).toBe('task');
    expect(graphError(() => parseGraph({ a: nestArgs(65) })).code).toBe('invalid_graph');
  });

  it('rejects args: null like kwargs: null', () => {
    expect(graphError(() => parseGraph({ a: { $op: 'f', args: null } })).details.path).toBe('$["a"].args');
  });

  it('applies the depth limit inside $literal data, which is not parsed but is stored', () => {
    expect(parseGraph({ a: { $literal: [{ $ref: 1 }] } }, small).get('a')).toEqual(lit([{ $ref: 1 }]));
    const err = graphError(() => parseGraph({ a: [{ $literal: [[1]] }] }, small));
    expect(err.code).toBe('invalid_graph');
    expect(err.details).toEqual({ key: 'a', path: '$["a"][0].$literal' });
    expect(err.message).toContain('deeper than 2 levels inside the literal');
  });

  it('rejects a $literal 100,000 levels deep without overflowing the stack', () => {
    const deep = JSON.parse(`{"$literal":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
    expect(graphError(() => parseGraph({ a: deep })).code).toBe('invalid_graph');
  });

  it('accepts a key of exactly maxKeyBytes bytes', () => {
    expect([...parseGraph({ abc: 1 }, small).keys()]).toEqual(['abc']);
  });

  it('rejects a key longer than maxKeyBytes with key_too_long, naming its prefix, its size and the limit', () => {
    const err = graphError(() => parseGraph({ ok: 1, abcd: 1 }, small));
    expect(err.code).toBe('key_too_long');
    expect(err.details).toEqual({ key: 'abcd', bytes: 4, limit: 3 });
  });

  it('counts bytes of UTF-8, not characters: 1024 bytes by default', () => {
    expect(defaultLimits.maxKeyBytes).toBe(1024);
    expect(parseGraph({ ['k'.repeat(1024)]: 1 }).size).toBe(1);
    expect(parseGraph({ ['é'.repeat(512)]: 1 }).size).toBe(1);
    expect(parseGraph({ ['🎉'.repeat(256)]: 1 }).size).toBe(1);
    const err = graphError(() => parseGraph({ ['🎉'.repeat(256) + 'x']: 1 }));
    expect(err.code).toBe('key_too_long');
    expect(err.details.bytes).toBe(1025);
    expect((err.details.key as string).length).toBe(64);
    expect(graphError(() => parseGraph({ ['é'.repeat(513)]: 1 })).details.bytes).toBe(1026);
  });

  it('rejects a key holding a lone surrogate (not storable as UTF-8); surrogate pairs are fine', () => {
    const err = graphError(() => parseGraph(JSON.parse('{"a\\ud800": 1}')));
    expect(err.code).toBe('invalid_graph');
    expect(err.message).toMatch(/well-formed unicode/);
    expect(parseGraph({ '\ud83c\udf89': 1 }).has('🎉')).toBe(true);
  });
});

describe('parseGraph treats unusual keys as ordinary keys', () => {
  it('parses __proto__, constructor, the empty key and unicode keys in order', () => {
    const raw = JSON.parse(
      '{"__proto__": 1, "constructor": {"$ref": "__proto__"}, "": {"$ref": "constructor"}, "ключ🙂": [{"$ref": ""}]}',
    );
    const g = parseGraph(raw);
    expect([...g]).toEqual([
      ['__proto__', lit(1)],
      ['constructor', refNode('__proto__')],
      ['', refNode('constructor')],
      ['ключ🙂', { kind: 'array', items: [refNode('')] }],
    ]);
  });

  it('keeps __proto__ inside literal data as an own field without polluting prototypes', () => {
    const g = parseGraph(JSON.parse('{"x": {"__proto__": {"polluted": true}, "a": 1}}'));
    const value = (g.get('x') as { value: Record<string, unknown> }).value;
    expect(Object.keys(value)).toEqual(['__proto__', 'a']);
    expect(Object.getOwnPropertyDescriptor(value, '__proto__')?.value).toEqual({ polluted: true });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('accepts __proto__ and constructor as kwargs names and object fields', () => {
    const g = parseGraph(
      JSON.parse(
        '{"x": 1, "y": {"$op": "f", "kwargs": {"__proto__": {"$ref": "x"}, "constructor": {"toString": {"$ref": "x"}}}}}',
      ),
    );
    expect(g.get('y')).toEqual({
      kind: 'task',
      op: 'f',
      args: [],
      kwargs: [
        ['__proto__', refNode('x')],
        ['constructor', { kind: 'object', entries: [['toString', refNode('x')]] }],
      ],
    });
  });

  it('quotes unusual keys in error paths', () => {
    expect(graphError(() => parseGraph(JSON.parse('{"": {"$bad": 1}}'))).details.path).toBe('$[""]');
    expect(graphError(() => parseGraph({ 'a"b': { $bad: 1 } })).details.path).toBe('$["a\\"b"]');
  });
});

describe('jsonPath', () => {
  it('writes identifier fields with a dot and indexes in brackets', () => {
    expect(jsonPath('y', ['args', 0])).toBe('$["y"].args[0]');
  });

  it('quotes fields that are not identifiers', () => {
    expect(jsonPath('y', ['kwargs', 'a b', '$ref', 'é', '0'])).toBe('$["y"].kwargs["a b"].$ref["é"]["0"]');
  });

  it('writes just the key for an empty path', () => {
    expect(jsonPath('k', [])).toBe('$["k"]');
  });
});

describe('GraphError', () => {
  it('is an Error with a name, a code and details that default to empty', () => {
    const err = new GraphError('cycle', 'loop');
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('GraphError');
    expect(err.code).toBe('cycle');
    expect(err.message).toBe('loop');
    expect(err.details).toEqual({});
  });
});

describe('parseLayers', () => {
  it('merges the keys of all layers in order', () => {
    const g = parseLayers({ first: { a: 1, b: ref('a') }, second: { c: task('inc', ref('b')) } });
    expect([...g.keys()]).toEqual(['a', 'b', 'c']);
    expect(g.get('c')).toEqual({ kind: 'task', op: 'inc', args: [refNode('b')], kwargs: null });
  });

  it('accepts an empty layer next to others', () => {
    expect([...parseLayers({ empty: {}, full: { a: 1 } }).keys()]).toEqual(['a']);
  });

  it('rejects a key defined by two layers, naming the key and the second layer', () => {
    const err = graphError(() => parseLayers({ one: { a: 1, b: 2 }, two: { c: 3 }, three: { b: 4 } }));
    expect(err.code).toBe('invalid_graph');
    expect(err.details).toEqual({ key: 'b', layer: 'three' });
  });

  it('rejects layers that are all empty', () => {
    expect(graphError(() => parseLayers({ a: {}, b: {} })).code).toBe('invalid_graph');
    expect(graphError(() => parseLayers({})).code).toBe('invalid_graph');
  });

  it('rejects a layer that is not an object, naming the layer', () => {
    const err = graphError(() => parseLayers({ good: { a: 1 }, bad: [1] }));
    expect(err.code).toBe('invalid_graph');
    expect(err.details.layer).toBe('bad');
  });

  it.each([
    ['an array', [{ a: 1 }]],
    ['a string', 'layers'],
    ['null', null],
  ])('rejects %s as the layers', (_, raw) => {
    expect(graphError(() => parseLayers(raw)).code).toBe('invalid_graph');
  });

  it('reports the path of a bad node inside a layer', () => {
    expect(graphError(() => parseLayers({ l: { y: task('f', { $nope: 1 }) } })).details.path).toBe('$["y"].args[0]');
  });

  it('treats a __proto__ layer name and key as ordinary', () => {
    const g = parseLayers(JSON.parse('{"__proto__": {"__proto__": 1}, "other": {"x": {"$ref": "__proto__"}}}'));
    expect([...g]).toEqual([
      ['__proto__', lit(1)],
      ['x', refNode('__proto__')],
    ]);
  });
});

describe('parseKeys', () => {
  it('accepts a single key', () => {
    expect(parseKeys('x')).toBe('x');
  });

  it('accepts nested arrays of keys, keeping the nesting', () => {
    expect(parseKeys(['a', ['b', ['c', []]], 'a'])).toEqual(['a', ['b', ['c', []]], 'a']);
  });

  it.each([
    ['a number', 1],
    ['an object', { key: 'x' }],
    ['null', null],
    ['a number inside an array', ['a', 1]],
    ['an object deep inside arrays', [['a', { k: 1 }]]],
  ])('rejects %s with invalid_graph', (_, raw) => {
    expect(graphError(() => parseKeys(raw)).code).toBe('invalid_graph');
  });

  it('accepts 32 nested arrays and rejects 33', () => {
    const nest = (n: number): unknown => (n === 0 ? 'k' : [nest(n - 1)]);
    expect(parseKeys(nest(32))).toEqual(nest(32));
    expect(graphError(() => parseKeys(nest(33))).code).toBe('invalid_graph');
  });
});
