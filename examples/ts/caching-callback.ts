/**
 * The seed's caching callback: results of slow tasks are kept, and a later
 * compute takes them instead of running the tasks again. weft has this
 * built in: with `options.cache`, a task of deterministic ops whose
 * fingerprint (ops, versions, inputs) was computed before is answered from
 * the cache. The seed's `_ray_presubmit` (answer a task with a value of your
 * own) is the `presubmit` hook, shown second with a hook served here.
 *
 * That hook listens on this machine's loopback, which weft refuses as a
 * target by default (SSRF, docs/webhooks.md): run weft with
 * WEFT_ALLOW_PRIVATE_WEBHOOKS=1 for this example.
 *
 *   WEFT_ALLOW_PRIVATE_WEBHOOKS=1 npm start &
 *   WEFT_URL=http://127.0.0.1:8080 node --import tsx examples/ts/caching-callback.ts
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, WeftError, delayed } from '@weft/client';
import { check, url } from './check.ts';

const client = new Client({ url });
const slow = [1, 2, 3, 4].map((i) => delayed('sleep')(300, i));
const z = delayed('sum')(slow);

/** Computes z and reports how long it took and how many tasks the cache answered. */
async function timed(options: Parameters<Client['start']>[1]): Promise<{ value: number; ms: number; hits: number }> {
  const t0 = performance.now();
  const run = await client.start<number>(z, options);
  const value = await run.result();
  let hits = 0;
  for await (const e of run.events())
    if (e.type === 'postsubmit_all') hits = Number(e.cache_hits ?? 0) + Number(e.presubmitted ?? 0);
  return { value, ms: performance.now() - t0, hits };
}

const cold = await timed({ options: { cache: true } });
const warm = await timed({ options: { cache: true } });
check(cold.value === 10 && warm.value === 10, 'z is 1 + 2 + 3 + 4');
check(
  warm.hits > 0 && warm.ms < cold.ms,
  `second compute: ${warm.hits} cache hits, ${warm.ms.toFixed(0)} ms vs ${cold.ms.toFixed(0)} ms`,
);
console.log(
  `options.cache: first compute ${cold.ms.toFixed(0)} ms, second ${warm.ms.toFixed(0)} ms (${warm.hits} tasks from the cache)`,
);

// The presubmit hook: weft asks it, before enqueueing, for values of tasks by key and fingerprint.
const cache = new Map<string, unknown>([[slow[0].key, 100]]);
const hook = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    const { tasks } = JSON.parse(body) as { tasks: { key: string }[] };
    const values = Object.fromEntries(tasks.filter((t) => cache.has(t.key)).map((t) => [t.key, cache.get(t.key)]));
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ values }));
  });
});
await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
try {
  const hooked = await timed({
    presubmit: { url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/presubmit` },
  }).catch((err: unknown) => {
    if (!(err instanceof WeftError && err.code === 'forbidden_target')) throw err;
    console.error(
      `${err.message}\nThe presubmit hook listens on loopback, which weft refuses by default (docs/webhooks.md). Start weft with\n  WEFT_ALLOW_PRIVATE_WEBHOOKS=1 npm start\nfor this example (examples/README.md).`,
    );
    process.exit(2);
  });
  check(
    hooked.value === 109 && hooked.hits === 1,
    `with the hook z is ${hooked.value} (${hooked.hits} answered), expected 109 (1)`,
  );
  console.log(`presubmit hook answered ${slow[0].key} with 100: z = ${hooked.value}`);
} finally {
  hook.close();
}
