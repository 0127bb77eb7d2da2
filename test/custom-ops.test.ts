/** Operators' op modules: loaded by workers from WEFT_OPS, published for the API's checks and GET /v1/ops. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startWeft, type Weft } from './helpers/weft.ts';

let weft: Weft;
beforeAll(async () => {
  weft = await startWeft({ workers: 1, env: { WEFT_OPS: 'examples/ops/text-ops.ts' } });
});
afterAll(() => weft?.close());

it('ops from examples/ops run in graphs, with kwargs', async () => {
  const graph = {
    s: 'the quick brown fox',
    words: { $op: 'text.words', args: [{ $ref: 's' }] },
    shout: {
      $op: 'text.join',
      args: [{ $op: 'concat', args: [[{ $ref: 'words' }, [{ $op: 'text.upper', args: ['!'] }]]] }],
      kwargs: { sep: '-' },
    },
  };
  const res = await weft.compute(graph, ['shout', 'words']);
  expect(res.status).toBe('done');
  expect(res.result).toEqual(['the-quick-brown-fox-!', ['the', 'quick', 'brown', 'fox']]);
});

it('GET /v1/ops lists them next to the built-ins', async () => {
  const body = (await (await fetch(`${weft.url}/v1/ops`)).json()) as any;
  expect(body.ops).toContainEqual({ name: 'text.upper', description: 'text.upper(s): s in upper case.' });
  expect(body.ops.map((o: { name: string }) => o.name)).toContain('inc');
});

it('an op error from a module fails the graph with its message', async () => {
  const res = await weft.compute({ x: { $op: 'text.upper', args: [5] } }, 'x');
  expect(res.status).toBe('failed');
  expect(res.error).toMatchObject({ key: 'x', op: 'text.upper', message: 'text.upper expects a string.' });
});
