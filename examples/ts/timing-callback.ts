/**
 * The seed's timing callback (`_ray_pretask` / `_ray_posttask`): the
 * execution time of each task. weft records every task's lifecycle as
 * events; this follows them live and pairs each pretask with its posttask,
 * then compares with the task timings the service computes itself.
 *
 *   WEFT_URL=http://127.0.0.1:8080 node --import tsx examples/ts/timing-callback.ts
 */
import { Client, delayed } from '@weft/client';
import { check, url } from './check.ts';

const client = new Client({ url });
// z: three slow steps and a sum, as a small stand-in for the seed's z.
const steps = [30, 60, 90].map((ms) => delayed('sleep')(ms, ms));
const z = delayed('sum')(steps);

const run = await client.start<number>(z, { options: { optimize: { fuse: false } } });
const started = new Map<string, number>();
const seen: { key: string; ms: number }[] = [];
for await (const event of run.events()) {
  if (event.type === 'pretask') started.set(event.key!, event.time);
  if (event.type === 'posttask') {
    const ms = event.duration_ms as number;
    seen.push({ key: event.key!, ms });
    console.log(`Execution time for task ${event.key}: ${(ms / 1000).toFixed(3)}s`);
  }
}
check((await run.result()) === 180, 'z is 30 + 60 + 90');
check(seen.length === 4, `${seen.length} tasks timed, expected 4`);
const timings = await run.tasks();
for (const [i, step] of steps.entries()) {
  const t = timings.find((x) => x.key === step.key);
  check(t !== undefined && (t.run_ms ?? 0) >= [30, 60, 90][i] - 1, `task ${step.key} ran ${t?.run_ms} ms`);
  check(started.has(step.key), `no pretask event for ${step.key}`);
}
console.log(`timed ${seen.length} tasks; the slowest took ${Math.max(...seen.map((s) => s.ms)).toFixed(1)} ms`);
