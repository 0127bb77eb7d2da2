import { describe, expect, it } from 'vitest';
import { Graph, KeyTable, parseGraph, type Node } from '../../src/graph/index.ts';

const lit = (value: number): Node => ({ kind: 'lit', value });

describe('KeyTable', () => {
  it('numbers keys in the order they are added, and finds each again', () => {
    const table = new KeyTable();
    // Past the first table's size several times over, so every key is rehashed by growth.
    const keys = Array.from({ length: 5000 }, (_, i) => `k-${i}`);
    keys.forEach((k, i) => expect(table.add(k)).toBe(i));
    expect(table.size).toBe(5000);
    keys.forEach((k, i) => expect(table.numberOf(k)).toBe(i));
    expect(table.keys).toEqual(keys);
  });

  it('gives a key added again its first number, and -1 for a key never added', () => {
    const table = new KeyTable(2);
    expect(table.add('a')).toBe(0);
    expect(table.add('b')).toBe(1);
    expect(table.add('a')).toBe(0);
    expect(table.size).toBe(2);
    expect(table.numberOf('c')).toBe(-1);
    expect(table.numberOf('')).toBe(-1);
  });

  it('treats every string as a key: object properties, the empty key, unicode, long keys', () => {
    const table = new KeyTable();
    const odd = ['__proto__', 'constructor', 'toString', '', '0', '1e3', 'ключ', '🔑', '\u0000', 'x'.repeat(1024)];
    odd.forEach((k, i) => expect(table.add(k)).toBe(i));
    odd.forEach((k, i) => expect(table.numberOf(k)).toBe(i));
  });
});

describe('Graph', () => {
  it('reads like a Map: a key set again keeps its place and takes the new node', () => {
    const g = new Graph();
    g.set('x', lit(1)).set('y', lit(2)).set('x', lit(3));
    expect(g.size).toBe(2);
    expect(g.get('x')).toEqual(lit(3));
    expect(g.has('y')).toBe(true);
    expect(g.has('z')).toBe(false);
    expect(g.get('z')).toBeUndefined();
    expect([...g.keys()]).toEqual(['x', 'y']);
    expect([...g]).toEqual([
      ['x', lit(3)],
      ['y', lit(2)],
    ]);
    expect(Graph.from(g).get('x')).toEqual(lit(3));
  });

  it('is what parsing makes, numbered in submission order', () => {
    const g = parseGraph({ b: 1, a: 2, __proto__x: 3 });
    expect([...g.keys()]).toEqual(['b', 'a', '__proto__x']);
    expect(g.numbering().table.numberOf('a')).toBe(1);
  });
});
