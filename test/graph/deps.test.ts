import { describe, expect, it } from 'vitest';
import {
  checkAcyclic,
  checkReferences,
  cull,
  dependenciesFirst,
  dependencyMap,
  follow,
  indexDependencies,
  neededKeys,
  oidsOf,
  parseGraph,
  refsOf,
  resolveAliases,
} from '../../src/graph/index.ts';
import { graphError, oid, ref, task } from './helpers.ts';

/** A dependency map from an object literal, keys in the order written. */
const depsOf = (o: Record<string, string[]>) => new Map(Object.entries(o));

/** The cycle reported for `fn`, failing unless it throws `cycle`. */
function cycleOf(fn: () => unknown): unknown {
  const err = graphError(fn);
  expect(err.code).toBe('cycle');
  return err.details.cycle;
}

describe('deps, the example in its doc comment', () => {
  const g = parseGraph({ x: 1, y: { $ref: 'x' }, z: { $op: 'inc', args: [{ $ref: 'y' }] } });

  it('resolves y as an alias of x', () => {
    expect(resolveAliases(g)).toEqual(new Map([['y', 'x']]));
  });

  it('culls z down to z, y and x', () => {
    expect(cull(dependencyMap(g), ['z'])).toEqual(new Set(['z', 'y', 'x']));
  });
});

describe('refsOf and oidsOf', () => {
  const node = parseGraph({
    k: {
      $op: 'f',
      args: [ref('b'), [ref('a'), ref('b'), oid('o2')], { $literal: { $ref: 'hidden' } }],
      kwargs: { k: ref('a'), o: { x: ref('c'), y: oid('o1') }, p: oid('o2') },
    },
  }).get('k')!;

  it('lists referenced keys once each, in first-seen order', () => {
    expect([...refsOf(node)]).toEqual(['b', 'a', 'c']);
  });

  it('lists object ids once each, in first-seen order', () => {
    expect([...oidsOf(node)]).toEqual(['o2', 'o1']);
  });

  it('finds nothing in a literal', () => {
    const data = parseGraph({ k: { $literal: { $ref: 'x', $oid: 'y' } } }).get('k')!;
    expect(refsOf(data).size).toBe(0);
    expect(oidsOf(data).size).toBe(0);
  });

  it('counts a bare $ref as a reference', () => {
    expect([...refsOf({ kind: 'ref', key: 'x' })]).toEqual(['x']);
  });
});

describe('checkReferences', () => {
  it('accepts a graph whose references all name keys', () => {
    expect(() => checkReferences(parseGraph({ a: 1, b: task('f', ref('a')), c: ref('b') }))).not.toThrow();
  });

  it('reports the key and the missing reference', () => {
    const err = graphError(() => checkReferences(parseGraph({ a: 1, y: task('f', ref('a'), ref('nope')) })));
    expect(err.code).toBe('missing_dependency');
    expect(err.details).toEqual({ key: 'y', missing: 'nope' });
  });

  it('finds a missing reference nested inside kwargs', () => {
    const g = parseGraph({ y: { $op: 'f', kwargs: { opts: { deep: [ref('gone')] } } } });
    expect(graphError(() => checkReferences(g)).details).toEqual({ key: 'y', missing: 'gone' });
  });

  it('reports a missing alias target', () => {
    expect(graphError(() => checkReferences(parseGraph({ y: ref('x') }))).details).toEqual({ key: 'y', missing: 'x' });
  });
});

describe('resolveAliases', () => {
  it('follows a chain of aliases to the key it ends at', () => {
    const g = parseGraph({ a: ref('b'), b: ref('c'), c: ref('d'), d: task('f') });
    expect(resolveAliases(g)).toEqual(
      new Map([
        ['a', 'd'],
        ['b', 'd'],
        ['c', 'd'],
      ]),
    );
  });

  it('follows a chain declared in reverse order', () => {
    const g = parseGraph({ d: 1, c: ref('d'), b: ref('c'), a: ref('b') });
    expect(resolveAliases(g)).toEqual(
      new Map([
        ['c', 'd'],
        ['b', 'd'],
        ['a', 'd'],
      ]),
    );
  });

  it('leaves out keys that are not aliases', () => {
    expect(resolveAliases(parseGraph({ x: 1, y: task('f', ref('x')), z: [ref('x')] })).size).toBe(0);
  });

  it('reports an alias loop as a cycle with the first key repeated at the end', () => {
    expect(cycleOf(() => resolveAliases(parseGraph({ a: ref('b'), b: ref('a') })))).toEqual(['a', 'b', 'a']);
  });

  it('reports an alias of itself as a cycle', () => {
    expect(cycleOf(() => resolveAliases(parseGraph({ a: ref('a') })))).toEqual(['a', 'a']);
  });

  it('reports only the loop when a chain runs into one', () => {
    expect(cycleOf(() => resolveAliases(parseGraph({ c: ref('a'), a: ref('b'), b: ref('a') })))).toEqual([
      'a',
      'b',
      'a',
    ]);
  });

  it('follow returns the target of an alias and any other key unchanged', () => {
    const aliases = resolveAliases(parseGraph({ x: 1, y: ref('x') }));
    expect(follow(aliases, 'y')).toBe('x');
    expect(follow(aliases, 'x')).toBe('x');
  });
});

describe('dependencyMap', () => {
  it('maps every key to the keys it references as written, aliases not followed', () => {
    const g = parseGraph({ x: 1, y: ref('x'), z: task('add', ref('y'), ref('x'), ref('y')) });
    expect(dependencyMap(g)).toEqual(
      new Map([
        ['x', []],
        ['y', ['x']],
        ['z', ['y', 'x']],
      ]),
    );
  });
});

describe('checkAcyclic', () => {
  it('accepts a diamond', () => {
    expect(() => checkAcyclic(depsOf({ a: [], b: ['a'], c: ['a'], d: ['b', 'c'] }))).not.toThrow();
  });

  it('reports a two-key cycle in order with the first key repeated at the end', () => {
    expect(cycleOf(() => checkAcyclic(depsOf({ a: ['b'], b: ['a'] })))).toEqual(['a', 'b', 'a']);
  });

  it('reports a task that depends on itself', () => {
    expect(cycleOf(() => checkAcyclic(dependencyMap(parseGraph({ a: task('inc', ref('a')) }))))).toEqual(['a', 'a']);
  });

  it('reports only the keys on the cycle, not the path leading to it', () => {
    expect(cycleOf(() => checkAcyclic(depsOf({ start: ['a'], a: ['b'], b: ['c'], c: ['a'] })))).toEqual([
      'a',
      'b',
      'c',
      'a',
    ]);
  });

  it('reports a cycle that goes through an alias with the keys as written', () => {
    const g = parseGraph({ a: task('inc', ref('b')), b: ref('a') });
    expect(cycleOf(() => checkAcyclic(dependencyMap(g)))).toEqual(['a', 'b', 'a']);
  });

  it('ignores references to keys that are not in the map', () => {
    expect(() => checkAcyclic(depsOf({ a: ['elsewhere'] }))).not.toThrow();
  });

  it('accepts a 200,000-long chain without overflowing the stack', () => {
    const deps = new Map<string, string[]>();
    for (let i = 0; i < 200_000; i++) deps.set(`k${i}`, i + 1 < 200_000 ? [`k${i + 1}`] : []);
    expect(() => checkAcyclic(deps)).not.toThrow();
  });

  it('reports a 200,000-long cycle without overflowing the stack', () => {
    const n = 200_000;
    const deps = new Map<string, string[]>();
    for (let i = 0; i < n; i++) deps.set(`k${i}`, [`k${(i + 1) % n}`]);
    const cycle = cycleOf(() => checkAcyclic(deps)) as string[];
    expect(cycle).toHaveLength(n + 1);
    expect(cycle.slice(0, 3)).toEqual(['k0', 'k1', 'k2']);
    expect(cycle.slice(-2)).toEqual([`k${n - 1}`, 'k0']);
  });
});

describe('cull', () => {
  const deps = depsOf({ a: [], b: ['a'], c: ['b'], d: ['a'], e: [], f: ['d', 'e'] });

  it('keeps a requested key and everything it needs, and nothing else', () => {
    expect(cull(deps, ['c'])).toEqual(new Set(['c', 'b', 'a']));
  });

  it('keeps the union of what several requested keys need', () => {
    expect(cull(deps, ['c', 'f'])).toEqual(new Set(['a', 'b', 'c', 'd', 'e', 'f']));
  });

  it('does not keep dependents of a requested key', () => {
    expect(cull(deps, ['a'])).toEqual(new Set(['a']));
  });

  it('keeps the aliases on the way', () => {
    const g = parseGraph({ x: 1, y: ref('x'), z: task('f', ref('y')), unused: task('g', ref('x')) });
    expect(cull(dependencyMap(g), ['z'])).toEqual(new Set(['z', 'y', 'x']));
  });

  it('keeps each key once when requested twice', () => {
    expect([...cull(deps, ['b', 'b'])].sort()).toEqual(['a', 'b']);
  });
});

describe('indexDependencies, dependenciesFirst and neededKeys (the numbered form planning uses)', () => {
  const g = parseGraph({ x: 1, y: ref('x'), z: task('add', ref('y'), ref('x'), ref('y')), w: task('inc', ref('x')) });

  it("numbers keys in graph order and lists each key's dependencies once, first-seen order (CSR)", () => {
    const index = indexDependencies(g);
    expect(index.keys).toEqual(['x', 'y', 'z', 'w']);
    expect(index.nodes).toEqual([...g.values()]);
    expect(index.table.numberOf('z')).toBe(2);
    expect(index.table.numberOf('toString')).toBe(-1);
    expect([...index.offsets]).toEqual([0, 0, 1, 3, 4]);
    expect([...index.targets]).toEqual([0, 1, 0, 0]);
    expect(index.indexedRefs).toBe(false);
  });

  it('notes a reference to one output of a multiple-return task', () => {
    const multi = parseGraph({ s: { $op: 'split', args: [], returns: 2 }, a: task('f', { $ref: 's', index: 1 }) });
    expect(indexDependencies(multi).indexedRefs).toBe(true);
  });

  it('reports the first reference to a missing key, as checkReferences does', () => {
    const err = graphError(() =>
      indexDependencies(parseGraph({ a: 1, y: task('f', ref('a'), ref('nope'), ref('gone')) })),
    );
    expect(err.code).toBe('missing_dependency');
    expect(err.details).toEqual({ key: 'y', missing: 'nope' });
  });

  it('orders the numbers as checkAcyclic orders the keys', () => {
    const index = indexDependencies(g);
    expect(Array.from(dependenciesFirst(index), (i) => index.keys[i])).toEqual(checkAcyclic(dependencyMap(g)));
  });

  it('reports a cycle with the keys as written', () => {
    const index = indexDependencies(parseGraph({ s: task('f', ref('a')), a: task('inc', ref('b')), b: ref('a') }));
    expect(cycleOf(() => dependenciesFirst(index))).toEqual(['a', 'b', 'a']);
  });

  it('marks what cull keeps', () => {
    const index = indexDependencies(g);
    const marks = neededKeys(index, [index.table.numberOf('z')]);
    expect(index.keys.filter((_, i) => marks[i])).toEqual([...cull(dependencyMap(g), ['z'])].sort());
    expect([...neededKeys(index, [3, 3])]).toEqual([1, 0, 0, 1]);
  });
});
