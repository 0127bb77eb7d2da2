/**
 * The seed's persist example: persist an array once (its blocks are computed
 * in the background and kept as objects), then sum, min and max read those
 * objects instead of recomputing them.
 *
 *   WEFT_URL=http://127.0.0.1:8080 node --import tsx examples/ts/persist.ts
 */
import { Client, ones, type WeftArray } from '@weft/client';
import { check, url } from './check.ts';

const client = new Client({ url });
const x = ones([100], { chunks: 20 }).mul(2);

const persisted = await x.persist(); // the default client: the one made above
// The persisted array's graph is its futures: one {"$oid"} per block, no tasks.
const blocks = [...persisted.layers.values()].flatMap((layer) => Object.values(layer));
check(
  blocks.length === 5 && blocks.every((b) => typeof (b as { $oid?: string }).$oid === 'string'),
  'persisted blocks are futures',
);

const [sum, min, max] = await client.compute<number[]>([persisted.sum(), persisted.min(), persisted.max()] as never);
check(sum === 200 && min === 2 && max === 2, `sum ${sum}, min ${min}, max ${max}`);
const head = await (persisted.slice([[0, 3]]) as WeftArray).compute();
check(Array.from(head.data).join() === '2,2,2', `first three ${Array.from(head.data)}`);
console.log(`persisted ${blocks.length} blocks; sum ${sum}, min ${min}, max ${max}`);
await client.release(persisted);
