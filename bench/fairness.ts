/**
 * `npm run bench -- fairness`: a 3-task graph submitted while a 200,000-task
 * graph runs, next to the same graph alone, measured in the same run, with
 * the big graph's throughput. Target (issue 11): the small graph finishes
 * within its time alone plus 100 ms. Every result is checked.
 */
import { median, percentile } from './lib.ts';

type Post = (api: string, body: string) => Promise<any>;

export async function fairnessBench(
  api: string,
  post: Post,
  big: { graph: Record<string, unknown>; key: string; expected: number; tasks: number },
  log: (line: string) => void,
): Promise<Record<string, unknown>> {
  const small = JSON.stringify({
    graph: {
      a: { $op: 'inc', args: [1] },
      b: { $op: 'inc', args: [{ $ref: 'a' }] },
      c: { $op: 'inc', args: [{ $ref: 'b' }] },
    },
    keys: 'c',
    wait: 60,
    options: { optimize: { fuse: false } },
  });
  const runSmall = async (): Promise<number> => {
    const t0 = performance.now();
    const res = await post(api, small);
    const ms = performance.now() - t0;
    if (res.status !== 'done' || res.result !== 4)
      throw new Error(`small graph gave ${JSON.stringify(res).slice(0, 300)}`);
    return ms;
  };
  for (let i = 0; i < 50; i++) await runSmall(); // warm-up
  const alone: number[] = [];
  for (let i = 0; i < 50; i++) alone.push(await runSmall());

  const t0 = performance.now();
  const submitted = await post(api, JSON.stringify({ graph: big.graph, keys: big.key }));
  if (!submitted.id) throw new Error(`big graph rejected: ${JSON.stringify(submitted).slice(0, 300)}`);
  const status = async () => (await (await fetch(`${api}/v1/graphs/${submitted.id}`)).json()) as any;
  // Small graphs while the big one runs: after it has started, and only those that ended while it still ran count.
  while ((await status()).progress.done < big.tasks * 0.05) await new Promise((r) => setTimeout(r, 20));
  const during: number[] = [];
  let progressAtFirst = 0;
  for (let i = 0; i < 40; i++) {
    const ms = await runSmall();
    const info = await status();
    if (info.status !== 'running') break;
    if (during.length === 0) progressAtFirst = info.progress.done;
    during.push(ms);
    await new Promise((r) => setTimeout(r, 50));
  }
  const res = (await (await fetch(`${api}/v1/graphs/${submitted.id}/result?wait=1200`)).json()) as any;
  const bigMs = performance.now() - t0;
  if (res.status !== 'done' || res.result !== big.expected)
    throw new Error(`big graph gave ${JSON.stringify(res).slice(0, 300)}, expected ${big.expected}`);
  if (during.length < 10)
    throw new Error(`only ${during.length} small graphs ran while the big one did: make it bigger`);
  const bigRate = (big.tasks / bigMs) * 1000;
  const figures = {
    bigTasks: big.tasks,
    bigTasksPerSec: Math.round(bigRate),
    smallAloneP50ms: +median(alone).toFixed(2),
    smallDuringP50ms: +median(during).toFixed(2),
    smallDuringP99ms: +percentile(during, 99).toFixed(2),
    smallDuringMaxMs: +Math.max(...during).toFixed(2),
    extraP50ms: +(median(during) - median(alone)).toFixed(2),
    smallRunsDuring: during.length,
    targetMet: Math.max(...during) <= median(alone) + 100,
  };
  log(
    `fairness: a 3-task graph alone p50 ${figures.smallAloneP50ms} ms; while a ${big.tasks}-task graph ran (${during.length} runs, from ${progressAtFirst} tasks done): p50 ${figures.smallDuringP50ms} ms, p99 ${figures.smallDuringP99ms} ms, max ${figures.smallDuringMaxMs} ms ` +
      `(target: within alone + 100 ms: ${figures.targetMet ? 'met' : 'missed'}); the big graph ran at ${Math.round(bigRate)} tasks/s (results checked)`,
  );
  return figures;
}
