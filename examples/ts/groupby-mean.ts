/**
 * The seed's dataframe example: `df.groupby(["age"]).mean()` of 1024 rows of
 * random ages and grades, in 2 partitions.
 *
 *   WEFT_URL=http://127.0.0.1:8080 node --import tsx examples/ts/groupby-mean.ts
 */
import { Client, fromRecords } from '@weft/client';
import { check, randint, url } from './check.ts';

const client = new Client({ url });
const ages = randint(0, 100, 1024, 2);
const grades = randint(0, 100, 1024, 3);
const rows = ages.map((age, i) => ({ age, grade: grades[i] }));

const df = fromRecords(rows, { npartitions: 2 });
const means = await df.groupby(['age']).mean().compute(client);

const byAge = new Map<number, number[]>();
rows.forEach((r) => byAge.set(r.age, [...(byAge.get(r.age) ?? []), r.grade]));
const expected = [...byAge]
  .sort(([a], [b]) => a - b)
  .map(([age, g]) => ({ age, grade: g.reduce((a, b) => a + b, 0) / g.length }));
check(means.length === expected.length, `${means.length} groups, expected ${expected.length}`);
means.forEach((r, i) =>
  check(
    r.age === expected[i].age && Math.abs((r.grade as number) - expected[i].grade) < 1e-9,
    `group ${JSON.stringify(r)} vs ${JSON.stringify(expected[i])}`,
  ),
);
console.log(`groupby(age).mean(): ${means.length} groups, first ${JSON.stringify(means[0])}`);
