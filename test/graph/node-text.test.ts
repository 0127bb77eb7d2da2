import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseGraph } from '../../src/graph/index.ts';
import { SharedStrings, readNodeText } from '../../src/graph/node-text.ts';
import { defaultLimits, type Node } from '../../src/graph/types.ts';

/** The node the general path (JSON.parse, then NodeParser) makes of a value's text, or the error it throws. */
function general(text: string, maxDepth = defaultLimits.maxDepth): Node | Error {
  try {
    return parseGraph({ k: JSON.parse(text) }, { ...defaultLimits, maxDepth }).get('k')!;
  } catch (err) {
    return err as Error;
  }
}

function fast(text: string, maxDepth = defaultLimits.maxDepth): Node | undefined {
  // Inside a longer text, as in a request body: the read must keep to its span.
  const body = `{"k": ${text}, "z": 1}`;
  return readNodeText(body, 6, 6 + text.length, new SharedStrings(), maxDepth);
}

/** JSON text of node-like values, with the spellings the fast path must read or leave alone. */
const valueText: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('0', '7', '-3', '-0', '12', '01', '1.5', '1e3', '2E-2', '123456789012345', '1234567890123456'),
    fc.constantFrom('true', 'false', 'null', 'tru', 'nul'),
    fc.constantFrom('"inc"', '""', '"a\\"b"', '"\\u0041"', '"é🎉"', '"tab\there"', '"$ref"'),
    fc.integer().map(String),
    fc.string().map((s) => JSON.stringify(s)),
    fc.array(tie('value'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`),
    fc.array(tie('value'), { maxLength: 3 }).map((items) => `[ ${items.join(' , ')} ]`),
    fc
      .tuple(fc.constantFrom('"inc"', '"sum"', '""', '"a\\u0062"', '1'), fc.array(tie('value'), { maxLength: 3 }))
      .map(([op, args]) => `{"$op": ${op}, "args": [${args.join(', ')}]}`),
    fc
      .tuple(fc.constantFrom('"add"', '"x"'), fc.array(tie('value'), { maxLength: 3 }))
      .map(([op, args]) => `{"args":[${args.join(',')}],"$op":${op}}`),
    fc.constantFrom('{"$op": "inc"}', '{"$op": "inc", "args": []}', '{"$op": "inc", "args": 1}'),
    fc.constantFrom(
      '{"$op": "a", "$op": "b"}',
      '{"$op": "a", "args": [], "args": [1]}',
      '{"$op": "inc", "kwargs": {}}',
    ),
    fc.constantFrom('{"$op": "f", "args": [1], "returns": 2}', '{"$op": "f", "options": {"retries": 1}}'),
    fc.string().map((k) => `{"$ref": ${JSON.stringify(k)}}`),
    fc.constantFrom(
      '{"$ref": "x", "index": 1}',
      '{"$ref": 1}',
      '{"$ref": "a", "$op": "b"}',
      '{"$ref": "a", "$ref": "b"}',
    ),
    fc.constantFrom('{}', '{"a": 1}', '{"args": [1]}', '{"$literal": [1]}', '{"$oid": "g.1"}', '{"\\u0024op": "inc"}'),
  ),
})).value;

/** Whitespace JSON allows between tokens, put after every structural character. */
const spaced = fc
  .tuple(valueText, fc.constantFrom('', ' ', '\n\t', ' \r\n '))
  .map(([text, ws]) => (ws === '' ? text : text.replace(/([[\]{},:])/g, `$1${ws}`)));

/** The fast reader's node of `text`, if it reads one, is valid JSON's and the general path's node of it. */
function expectAgreement(text: string): void {
  const node = fast(text);
  if (node === undefined) return;
  expect(() => JSON.parse(text), text).not.toThrow();
  expect(node, text).toEqual(general(text));
}

describe('readNodeText', () => {
  it('gives the node JSON.parse and NodeParser make, or leaves the value to them', () => {
    fc.assert(
      fc.property(spaced, (text) => expectAgreement(text)),
      { numRuns: 3000 },
    );
  });

  it('leaves alone a value with one character dropped or doubled when JSON refuses it', () => {
    fc.assert(
      fc.property(valueText, fc.nat(), fc.boolean(), (text, at, doubled) => {
        const i = at % Math.max(1, text.length);
        expectAgreement(doubled ? text.slice(0, i + 1) + text.slice(i) : text.slice(0, i) + text.slice(i + 1));
      }),
      { numRuns: 3000 },
    );
  });

  it('leaves to JSON.parse what JSON refuses, which then throws', () => {
    for (const text of [
      '[1,]',
      '[,1]',
      '[1 2]',
      '{"$op": "inc", "args": [0,]}',
      '{"$op": "inc",}',
      '{"$ref": "x",}',
      '{"$op" "inc"}',
      '01',
      '-',
      'tru',
      'nulll',
      '"unterminated',
      '[1',
    ]) {
      expect(fast(text), text).toBeUndefined();
      expect(() => JSON.parse(text), text).toThrow();
    }
  });

  it('reads the shapes of big graphs itself', () => {
    for (const text of [
      '{"$op": "inc", "args": [5]}',
      '{"$op":"sum","args":[[{"$ref":"inc-0"},{"$ref":"inc-1"}]]}',
      '{ "args" : [ 1 , "a" , true , null , [ -2 ] ] , "$op" : "f" }',
      '{"$ref": "x"}',
      '[1, [2, "x"], false]',
      '"text"',
      '-12',
      '{"$op": "inc"}',
    ]) {
      const node = fast(text);
      expect(node, text).toBeDefined();
      expect(node, text).toEqual(general(text));
    }
  });

  it('leaves a value nested past the graph limit to NodeParser, which refuses it', () => {
    const nested = (depth: number) => '['.repeat(depth) + '{"$ref": "x"}' + ']'.repeat(depth);
    // Two arrays and the reference inside: within a limit of 2, not of 1.
    expect(fast(nested(2), 2)).toEqual(general(nested(2), 2));
    expect(fast(nested(2), 1)).toBeUndefined();
    expect(general(nested(2), 1)).toBeInstanceOf(Error);
    // Past the fast path's own depth, the general path reads it.
    expect(fast(nested(12))).toBeUndefined();
    expect(general(nested(12))).toMatchObject({ kind: 'array' });
  });

  it('names the keys references give, whether or not the key after the last one named is the one', () => {
    const strings = new SharedStrings(['x-0', 'x-1', 'x-2', 'x-10']);
    const text =
      '{"$op": "sum", "args": [[{"$ref": "x-0"}, {"$ref": "x-1"}, {"$ref": "x-10"}, {"$ref": "x-1"}, {"$ref": "later"}]]}';
    const node = readNodeText(text, 0, text.length, strings, 64) as { args: { items: { key: string }[] }[] };
    expect(node.args[0].items.map((r) => r.key)).toEqual(['x-0', 'x-1', 'x-10', 'x-1', 'later']);
  });

  it('gives tasks of one op one string for its name', () => {
    const ops = new SharedStrings();
    const one = '{"$op": "inc", "args": [1]}';
    const text = `[${one}, ${one.replace('1', '2')}]`;
    const a = readNodeText(text, 1, 1 + one.length, ops, 64) as { op: string };
    const b = readNodeText(text, 3 + one.length, 3 + 2 * one.length, ops, 64) as { op: string };
    expect(a).toEqual({ kind: 'task', op: 'inc', args: [{ kind: 'lit', value: 1 }], kwargs: null });
    expect(b.op).toBe('inc');
  });
});
