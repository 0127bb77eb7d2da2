/**
 * The Redis protocol is described once: the spec header by src/queue/spec.ts
 * (SPEC_HEADER), which the scripts' field numbers and docs/architecture.md
 * follow.
 */
import { readFileSync } from 'node:fs';
import { unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { decodeSpec, encodeSpec, SPEC_HEADER, type TaskSpec } from '../src/queue/spec.ts';

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
  };

  it('is written in the order of SPEC_HEADER, and read back', () => {
    const bytes = encodeSpec(spec);
    const header = unpack(bytes.subarray(4, 4 + bytes.readUInt32BE(0))) as unknown[];
    expect(header).toEqual(SPEC_HEADER.map((field) => spec[field]));
    const { cache: _cache, ...rest } = spec;
    expect(decodeSpec(bytes)).toEqual(rest);
  });

  it('the scripts number its fields as SPEC_HEADER orders them', () => {
    const table = /local SPEC = \{([^}]*)\}/.exec(read('src/queue/scripts/includes/specHeader.lua'))![1];
    const numbered = Object.fromEntries([...table.matchAll(/(\w+) = (\d+)/g)].map(([, name, n]) => [name, Number(n)]));
    expect(numbered).toEqual(Object.fromEntries(SPEC_HEADER.map((field, i) => [field, i + 1])));
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
