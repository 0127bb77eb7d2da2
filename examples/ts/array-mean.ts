/**
 * The seed's first example: the mean of a 256x256 array of random integers,
 * `da.from_array(np.random.randint(0, 1000, size=(256, 256))).mean()`.
 *
 *   WEFT_URL=http://127.0.0.1:8080 node --import tsx examples/ts/array-mean.ts
 */
import { Client, fromArray } from '@weft/client';
import { check, randint, url } from './check.ts';

const client = new Client({ url });
const values = randint(0, 1000, 256 * 256, 1);
const rows = Array.from({ length: 256 }, (_, i) => values.slice(i * 256, (i + 1) * 256));

const x = fromArray(rows, { chunks: 64 }); // 16 blocks of 64x64
const mean = await client.compute<number>(x.mean());

const expected = values.reduce((a, b) => a + b, 0) / values.length;
check(Math.abs(mean - expected) <= 1e-12 * expected, `mean ${mean}, expected ${expected}`);
console.log(`mean of a 256x256 array in ${x.numblocks.join('x')} blocks: ${mean}`);
