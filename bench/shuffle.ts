/**
 * `npm run bench -- shuffle`: 100 partitions of 20,000 rows shuffled on a
 * column into 100 outputs, Dask's task-based way (100 splits, 10,000
 * getitems, 100 concats) and with weft's one-stage rewrite (100
 * multiple-return splits, 100 concats), in the same run on the same data.
 * Both results are reduced to per-output row counts and sums and compared.
 */
import { Frame } from '../src/shared/values/frame.ts';
import { encodeValue } from '../src/shared/codec.ts';
import { random } from '../test/helpers/random.ts';

const PARTITIONS = 100;
const ROWS = 20_000;
const OUTPUTS = 100;

async function put(api: string, bytes: Buffer): Promise<string> {
  const res = await fetch(`${api}/v1/objects`, {
    method: 'POST',
    headers: { 'content-type': 'application/msgpack' },
    body: new Uint8Array(bytes),
  });
  const body = (await res.json()) as { $oid?: string; error?: unknown };
  if (!body.$oid) throw new Error(`put failed: ${JSON.stringify(body)}`);
  return body.$oid;
}

function shuffleGraph(oids: string[]): { graph: Record<string, unknown>; keys: string[] } {
  const graph: Record<string, unknown> = {};
  for (let i = 0; i < oids.length; i++) {
    graph[`split-${i}`] = { $op: 'frame.shuffle_group', args: [{ $oid: oids[i] }, 'key', OUTPUTS] };
    for (let j = 0; j < OUTPUTS; j++) graph[`part-${i}-${j}`] = { $op: 'getitem', args: [{ $ref: `split-${i}` }, j] };
  }
  const keys: string[] = [];
  for (let j = 0; j < OUTPUTS; j++) {
    graph[`out-${j}`] = { $op: 'frame.concat', args: [oids.map((_, i) => ({ $ref: `part-${i}-${j}` }))] };
    graph[`check-${j}`] = {
      $op: 'frame.to_records',
      args: [
        {
          $op: 'frame.groupby_agg',
          args: [
            { $op: 'frame.assign', args: [{ $ref: `out-${j}` }, { all: 0 }] },
            'all',
            { rows: ['key', 'count'], total: ['value', 'sum'] },
          ],
        },
      ],
    };
    keys.push(`check-${j}`);
  }
  return { graph, keys };
}

export async function shuffleBench(
  api: string,
  rawJobsPerSec: number,
  log: (line: string) => void,
): Promise<Record<string, unknown>> {
  const oids: string[] = [];
  for (let i = 0; i < PARTITIONS; i++) {
    const next = random(i + 1);
    const key = new Int32Array(ROWS);
    const value = new Float64Array(ROWS);
    for (let r = 0; r < ROWS; r++) {
      key[r] = Math.floor(next() * 1_000_000);
      value[r] = Math.round(next() * 1000) / 8;
    }
    oids.push(
      await put(
        api,
        encodeValue(
          new Frame([
            ['key', key],
            ['value', value],
          ]),
        ),
      ),
    );
  }
  const { graph, keys } = shuffleGraph(oids);
  const body = (shuffle: boolean) => JSON.stringify({ graph, keys, wait: 3600, options: { optimize: { shuffle } } });

  const run = async (shuffle: boolean) => {
    const t0 = performance.now();
    const res = (await (
      await fetch(`${api}/v1/graphs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: body(shuffle),
      })
    ).json()) as any;
    const ms = performance.now() - t0;
    if (res.status !== 'done')
      throw new Error(`shuffle (rewrite ${shuffle}) gave ${JSON.stringify(res).slice(0, 400)}`);
    const info = (await (await fetch(`${api}/v1/graphs/${res.id}`)).json()) as any;
    return { ms, tasks: info.progress.total as number, result: res.result as { rows: number; total: number }[][] };
  };
  const naive = await run(false);
  const rewritten = await run(true);
  const rows = naive.result.reduce((n, r) => n + (r[0]?.rows ?? 0), 0);
  if (rows !== PARTITIONS * ROWS) throw new Error(`the naive shuffle lost rows: ${rows} of ${PARTITIONS * ROWS}`);
  if (JSON.stringify(naive.result) !== JSON.stringify(rewritten.result))
    throw new Error('the rewritten shuffle gave a different result from the naive one');

  const speedup = naive.ms / rewritten.ms;
  const figures = {
    partitions: PARTITIONS,
    rows: ROWS,
    outputs: OUTPUTS,
    naive: { ms: Math.round(naive.ms), tasks: naive.tasks },
    rewritten: { ms: Math.round(rewritten.ms), tasks: rewritten.tasks },
    speedup: +speedup.toFixed(2),
    fewerTasks: +(naive.tasks / rewritten.tasks).toFixed(1),
    rawBullmqJobsPerSec: Math.round(rawJobsPerSec),
  };
  log(
    `shuffle: ${PARTITIONS} partitions x ${ROWS.toLocaleString('en')} rows into ${OUTPUTS}: naive ${naive.tasks} tasks in ${(naive.ms / 1000).toFixed(2)} s, ` +
      `rewritten ${rewritten.tasks} tasks in ${(rewritten.ms / 1000).toFixed(2)} s: ${speedup.toFixed(1)}x faster, ${figures.fewerTasks}x fewer tasks (results identical)`,
  );
  return figures;
}
