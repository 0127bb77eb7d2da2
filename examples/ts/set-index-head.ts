/**
 * The seed's shuffle example: 10,000 rows in 100 partitions, `set_index("age")`
 * (a task-based shuffle, which weft runs as one stage of multiple-return
 * tasks), then `head(10, npartitions=-1)`.
 *
 *   WEFT_URL=http://127.0.0.1:8080 node --import tsx examples/ts/set-index-head.ts
 */
import { Client, fromRecords } from '@weft/client';
import { check, randint, url } from './check.ts';

const client = new Client({ url });
const ages = randint(0, 100, 10_000, 4);
const grades = randint(0, 100, 10_000, 5);
const df = fromRecords(
  ages.map((age, i) => ({ age, grade: grades[i] })),
  { npartitions: 100 },
);

const head = await df.setIndex('age').head(10, { npartitions: -1 }).compute(client);

const smallest = [...ages].sort((a, b) => a - b).slice(0, 10);
check(
  JSON.stringify(head.map((r) => r.age)) === JSON.stringify(smallest),
  `head ages ${head.map((r) => r.age)}, expected ${smallest}`,
);
console.log(`set_index(age).head(10, npartitions=-1): ages ${head.map((r) => r.age).join(', ')}`);
