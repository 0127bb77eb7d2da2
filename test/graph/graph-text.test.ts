import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  GraphError,
  GraphText,
  parseGraph,
  parseGraphText,
  splitGraphBody,
  type Graph,
} from '../../src/graph/index.ts';
import { drawGraph, SPECIAL_KEYS } from '../helpers/graph-gen.ts';

/** The graph of a request body as the graph route reads it: split, then each key's value parsed. */
function readSplit(text: string): { body: Record<string, unknown>; graph: Graph } {
  const body = splitGraphBody(text);
  if (body === null) throw new Error(`the split gave up on ${text.slice(0, 200)}`);
  expect(body.graph).toBeInstanceOf(GraphText);
  return { body, graph: parseGraphText(body.graph as GraphText) };
}

/** The graph as JSON.parse of the whole body and parseGraph read it. */
function readWhole(text: string): Graph {
  return parseGraph((JSON.parse(text) as { graph: unknown }).graph);
}

/** A JSON object's text with its members in this order (JSON.stringify of an object puts integer-like keys first). */
function objectText(entries: [string, unknown][], indent?: string | number): string {
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v, null, indent)}`).join(',')}}`;
}

describe('splitGraphBody and parseGraphText', () => {
  it('read any graph as JSON.parse and parseGraph do, in the order the keys were sent', () => {
    fc.assert(
      fc.property(fc.gen(), fc.constantFrom(undefined, 1, '\t', ' \r\n '), (g, indent) => {
        const { graph, keys } = drawGraph(g);
        const text = `{"keys": ${JSON.stringify(keys)},\n "graph" :${objectText(graph, indent)} , "wait":1}`;
        const { body, graph: split } = readSplit(text);
        expect(body.keys).toEqual(keys);
        expect(body.wait).toBe(1);
        const whole = readWhole(text);
        // The same keys and nodes; JSON.parse puts integer-like keys ("0") first, the split keeps the text's order.
        expect(new Map(split)).toEqual(new Map(whole));
        expect([...split.keys()]).toEqual(graph.map(([k]) => k));
      }),
      { numRuns: 300 },
    );
  });

  it('keys with escapes, prototype names and unicode are the keys JSON.parse reads', () => {
    const entries: [string, unknown][] = SPECIAL_KEYS.map((k, i) => [k, { $op: 'inc', args: [i] }]);
    const text = `{"graph": ${objectText(entries)}, "keys": "x"}`;
    const { graph } = readSplit(text);
    expect([...graph.keys()]).toEqual(SPECIAL_KEYS);
    expect(new Map(graph)).toEqual(new Map(readWhole(text)));
    // Escapes JSON.stringify does not write.
    const escaped = readSplit(
      '{"graph": {"\\u00e9\\/\\"": 1, "a\\tb": {"$ref": "\\u00e9/\\""}}, "keys": "a\\tb"}',
    ).graph;
    expect([...escaped]).toEqual([
      ['é/"', { kind: 'lit', value: 1 }],
      ['a\tb', { kind: 'ref', key: 'é/"' }],
    ]);
  });

  it('values holding braces, brackets, quotes and backslashes in strings end where JSON says', () => {
    const text = String.raw`{"graph":{"a":"}]\"{[","b":{"$literal":{"x":"\\","y":["]",{"}":"\\\""}]}},"c":[1,[2,[3]],"]"],"d":-1.5e3,"e":true,"f":null},"keys":"a"}`;
    expect(new Map(readSplit(text).graph)).toEqual(new Map(readWhole(text)));
  });

  it('a key sent twice keeps its first place and its last value, as with JSON.parse', () => {
    const { graph } = readSplit('{"graph": {"a": 1, "b": 2, "a": 3}, "keys": "a"}');
    expect([...graph]).toEqual([
      ['a', { kind: 'lit', value: 3 }],
      ['b', { kind: 'lit', value: 2 }],
    ]);
  });

  it('the last "graph" member is the graph, and the rest of the body is JSON.parse\'s', () => {
    const { body, graph } = readSplit(
      '{"graph": {"a": 1}, "options": {"graph": {"b": 2}}, "graph": {"c": 3}, "keys": ["c"]}',
    );
    expect([...graph.keys()]).toEqual(['c']);
    expect(body.options).toEqual({ graph: { b: 2 } });
    expect(body.keys).toEqual(['c']);
  });

  it('an empty graph is refused as parseGraph refuses it', () => {
    const { body } = { body: splitGraphBody('{"graph": {}, "keys": "a"}')! };
    expect(() => parseGraphText(body.graph as GraphText)).toThrow(GraphError);
    expect(() => parseGraphText(body.graph as GraphText)).toThrow(/empty/);
  });

  it('gives up on bodies it does not read, which are then parsed whole', () => {
    for (const text of [
      '[1, 2]',
      '"graph"',
      '{"graph": [1], "keys": "a"}',
      '{"graph": "x", "keys": "a"}',
      '{"keys": "a"}',
      '{}',
      '{"gr\\u0061ph": {"a": 1}, "keys": "a"}',
      '{"graph": {"a": 1}, "keys": "a"} x',
      '{"graph": {"a": 1} "keys": "a"}',
      '{"graph": {"a" 1}, "keys": "a"}',
      '{"graph": {a: 1}, "keys": "a"}',
      '{"graph": {"a": 1,}, "keys": "a"}',
      '{"graph": {"a": "unterminated}, "keys": "a"}',
      '{"graph": {"a": [1, 2}, "keys": "a"}',
      '{"graph"\u000b: {"a": 1}, "keys": "a"}',
      '{"graph": {"a": 1}, "keys": "a",}',
      '{"graph": {"a": 1}, "keys": nope}',
    ]) {
      expect(splitGraphBody(text), text).toBeNull();
    }
  });

  it("a value that is not JSON is refused with JSON.parse's error about the whole body", () => {
    for (const text of [
      '{"graph": {"a": [1,}, "b": 2}, "keys": "a"}',
      '{"graph": {"a": tru, "b": 2}, "keys": "a"}',
      '{"graph": {"a": {"x" 1}, "b": 2}, "keys": "a"}',
      '{"graph": {"a": "bad \\q escape"}, "keys": "a"}',
      '{"graph": {"a\\q": 1}, "keys": "a"}',
      '{"graph": {"a": "tab\tinside"}, "keys": "a"}',
      '{"graph": {"a\tb": 1}, "keys": "a"}',
    ]) {
      let expected = '';
      try {
        JSON.parse(text);
      } catch (err) {
        expected = (err as Error).message;
      }
      expect(expected, text).not.toBe('');
      const body = splitGraphBody(text);
      if (body === null) continue; // Parsed whole by the route: JSON.parse's error, by construction.
      expect(() => parseGraphText(body.graph as GraphText), text).toThrow(new SyntaxError(expected));
    }
  });
});
