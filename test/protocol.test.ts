/**
 * The Redis protocol has one owner per part: each Lua script one TypeScript
 * wrapper (src/queue/scripts/<name>.ts), the only code that calls it; key
 * names one module (src/queue/keys.ts); the spec header one description
 * (SPEC_HEADER in src/queue/spec.ts), which the scripts' field numbers and
 * docs/architecture.md follow.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pack, unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseGraph } from '../src/graph/parse.ts';
import { dependentsOf, plannedTemplate, planGraph } from '../src/graph/plan.ts';
import type { KeySpec } from '../src/graph/types.ts';
import { decodeSpec, encodePlannedSpec, encodeSpec, SPEC_HEADER, type TaskSpec } from '../src/queue/spec.ts';
import { drawGraph, toJson } from './helpers/graph-gen.ts';
import { encodeValue } from '../src/shared/codec.ts';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

describe('the task spec header', () => {
  const spec: TaskSpec = {
    key: 'k',
    deps: [1, [2, 0], 'g.3'],
    outs: [4],
    template: [0, 'x'] as never,
    returns: 3,
    cache: 'fp',
    retries: 2,
    timeoutMs: 500,
    lang: 'python',
  };

  it('is written in the order of SPEC_HEADER, and read back', () => {
    const bytes = encodeSpec(spec);
    const header = unpack(bytes.subarray(4, 4 + bytes.readUInt32BE(0))) as unknown[];
    expect(header).toEqual(SPEC_HEADER.map((field) => spec[field]));
    const { cache: _cache, ...rest } = spec;
    const { templateBytes, ...decoded } = decodeSpec(bytes);
    expect(decoded).toEqual(rest);
    expect(unpack(templateBytes!)).toEqual(spec.template);
  });

  it('is the MessagePack msgpackr writes, for long keys, many inputs and large numbers too', () => {
    const specs: TaskSpec[] = [
      spec,
      {
        key: 'x'.repeat(40),
        deps: Array.from({ length: 100 }, (_, i) => i * 1000),
        outs: [70_000, 4294967295],
        template: [0, 1] as never,
      },
      {
        key: `${'é'.repeat(200)}😀`,
        deps: Array.from({ length: 70_000 }, (_, i) => i),
        outs: [],
        template: [0, 1] as never,
      },
      {
        key: 'y'.repeat(70_000),
        deps: [[1, 300]],
        outs: [127, 128, 255, 256, 65_535, 65_536],
        template: [0, 1] as never,
      },
      {
        key: '',
        deps: [],
        outs: Array.from({ length: 16 }, (_, i) => i),
        template: [0, 1] as never,
        timeoutMs: 2 ** 33,
      },
    ];
    for (const s of specs) {
      const bytes = encodeSpec(s);
      const fields = SPEC_HEADER.map((field) => s[field] ?? (field === 'cache' || field === 'lang' ? '' : 0));
      expect(bytes.subarray(4, 4 + bytes.readUInt32BE(0)).equals(pack(fields))).toBe(true);
    }
  });

  it('carries the template as the value codec writes it, whatever the template holds', () => {
    const templates: unknown[] = [
      [2, 'inc', [[0, 41]], null, null],
      [
        2,
        'sum',
        [[3, Array.from({ length: 100 }, (_, i) => [1, i])]],
        ['axis', 'keep'],
        [
          [0, -1],
          [0, true],
        ],
      ],
      [0, [0, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 53, -0, -1, -32, -33, -128, -129]],
      [0, [-32_768, -32_769, -(2 ** 31), -(2 ** 31) - 1, 0.5, -1.25, Number.NaN, Number.POSITIVE_INFINITY, 1e300]],
      [0, ['', 'a'.repeat(31), 'b'.repeat(32), 'c'.repeat(255), 'd'.repeat(256), 'e'.repeat(70_000), false, null]],
      [0, Array.from({ length: 70_000 }, (_, i) => i)],
      // Left to the codec: objects, bytes, text that is not ASCII, bigints.
      [0, { a: 1, ['__proto__']: 2 }],
      [0, new Uint8Array([1, 2, 3])],
      [0, 'é\ud800'],
      [0, 2n ** 63n - 1n],
      [5, 'fused', [2, 'inc', [[1, 0]], null, null]],
    ];
    for (const template of templates) {
      const bytes = encodeSpec({ ...spec, template: template as never });
      const templateBytes = bytes.subarray(4 + bytes.readUInt32BE(0));
      expect(
        templateBytes.equals(encodeValue(template)),
        JSON.stringify(template, (_, v) => String(v)),
      ).toBe(true);
    }
  });

  it("stores a planned task's template, written from its node, as encodeSpec writes the template made of it", () => {
    const check = (graph: Record<string, unknown>, keys: KeySpec, fuse: boolean) => {
      const plan = planGraph(parseGraph(graph), keys, { fuse });
      plan.nodes.forEach((node, i) => {
        if (node.kind !== 'task') return;
        const outs = dependentsOf(plan.dependents, i);
        const made = encodeSpec({ ...node, outs, template: plannedTemplate(node) });
        expect(encodePlannedSpec(node, outs).equals(made), node.key).toBe(true);
        expect(
          encodePlannedSpec({ ...node, cache: 'fp' }, outs).equals(
            encodeSpec({ ...node, outs, cache: 'fp', template: plannedTemplate(node) }),
          ),
        ).toBe(true);
      });
    };
    const ref = (key: string, index?: number) => (index === undefined ? { $ref: key } : { $ref: key, index });
    const py = { $foreign: { lang: 'python', name: 'm.f', data: 'AAEC' } };
    // Every node kind, repeated and indexed references, and what only the codec writes.
    check(
      {
        x: 1,
        s: { $op: 'split', args: [ref('x')], returns: 2 },
        f: py,
        call: { $call: ref('f'), args: [ref('x'), ref('s', 1)], kwargs: { k: ref('x'), o: { $oid: 'g.7' } } },
        lit: { $call: py, args: [ref('x')] },
        kw: { $op: 'add', args: [ref('x'), ref('x')], kwargs: { y: ref('s', 0), z: [ref('x'), 2] } },
        built: [ref('kw'), { a: ref('x'), b: { $oid: 'g.7' } }, 'text', null],
        odd: { $op: 'inc', args: [{ $literal: { é: 1 } }, 'é', { $literal: { __proto__x: [1] } }, 2 ** 40, -7, 0.5] },
        chain1: { $op: 'inc', args: [ref('x')] },
        chain2: { $op: 'inc', args: [ref('chain1')] },
      },
      ['call', 'lit', 'kw', 'built', 'odd', 'chain2'],
      true,
    );
    // Random graphs (the fuzz tests' generator), fused and not.
    const objects = [
      { oid: 'g.1', value: 3 },
      { oid: 'g.2', value: [1, 2] },
    ];
    fc.assert(
      fc.property(fc.gen(), fc.boolean(), (g, fuse) => {
        const { graph, keys } = drawGraph(g, objects);
        check(toJson(graph), keys, fuse);
      }),
      { seed: 20261203, numRuns: 300 },
    );
  });

  it('the scripts number the fields they read as SPEC_HEADER orders them', () => {
    const table = /local SPEC = \{([^}]*)\}/.exec(read('src/queue/scripts/includes/specHeader.lua'))![1];
    const numbered = [...table.matchAll(/(\w+) = (\d+)/g)].map(([, name, n]) => [name, Number(n)]);
    expect(numbered.length).toBeGreaterThan(0);
    for (const [name, n] of numbered) expect(SPEC_HEADER.indexOf(name as never) + 1, String(name)).toBe(n);
  });

  it('docs/architecture.md names the same fields', () => {
    const row = read('docs/architecture.md')
      .split('\n')
      .find((line) => line.startsWith('| `P:{g}:spec`'))!;
    const fields = /msgpack \[([^\]]*)\]/
      .exec(row)![1]
      .split(',')
      .map((f) => f.trim());
    expect(fields).toEqual([...SPEC_HEADER]);
  });
});

const sources = (dir: string): { path: string; text: string }[] =>
  (readdirSync(new URL(`../${dir}`, import.meta.url), { recursive: true }) as string[])
    .filter((f) => f.endsWith('.ts'))
    .map((f) => ({ path: join(dir, f), text: read(join(dir, f)) }));

const scripts = readdirSync(new URL('../src/queue/scripts', import.meta.url))
  .filter((f) => f.endsWith('.lua'))
  .map((f) => f.replace(/-\d+\.lua$/, ''));

describe('one wrapper per script', () => {
  it('every script has a wrapper beside it, which declares its command', () => {
    for (const name of scripts) {
      const wrapper = read(`src/queue/scripts/${name}.ts`);
      expect(wrapper, name).toMatch(new RegExp(`${name}-\\d+\\.lua`));
      expect(wrapper, name).toMatch(new RegExp(`interface ScriptCommands \\{\\s+${name}(Buffer)?\\(`));
    }
  });

  it('only its wrapper calls a script', () => {
    const code = [...sources('src'), ...sources('bench'), ...sources('test')];
    for (const name of scripts) {
      // A direct call, or one queued on a CommandBatch (src/queue/batch.ts).
      const call = new RegExp(`\\.${name}(Buffer)?\\(|\\.add\\(\\s*'${name}'`);
      const callers = code.filter((f) => call.test(f.text)).map((f) => f.path);
      expect(callers, name).toEqual([join('src/queue/scripts', `${name}.ts`)]);
    }
  });
});

describe('key names', () => {
  it('no server code builds a key from the prefix but src/queue/keys.ts', () => {
    const builders = sources('src')
      // The SDK's "prefix" names graph keys, not Redis keys.
      .filter((f) => f.path !== join('src/queue', 'keys.ts') && !f.path.startsWith(join('src', 'client')))
      .filter((f) => /`\$\{[\w.]*prefix\}:|prefix \+ ':/i.test(f.text))
      .map((f) => f.path);
    expect(builders).toEqual([]);
  });
});
