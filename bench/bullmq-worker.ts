/**
 * The raw-BullMQ baseline's worker process: processes `count` no-op jobs from
 * queue `raw` with concurrency 50 and prints the elapsed time from its first
 * job to its last as JSON.
 */
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

const [url, countArg] = process.argv.slice(2);
const count = Number(countArg);
let done = 0;
let first = 0;
const connection = new Redis(url, { maxRetriesPerRequest: null });
const worker = new Worker(
  'raw',
  async () => {
    if (first === 0) first = performance.now();
    if (++done === count) {
      const ms = performance.now() - first;
      process.stdout.write(JSON.stringify({ ms, count }) + '\n');
      setImmediate(() => void worker.close().then(() => process.exit(0)));
    }
  },
  { connection, prefix: 'rawbench', concurrency: 50 },
);
process.stdout.write('ready\n');
