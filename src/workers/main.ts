/** Entry point of a worker process: `npm run worker`. */
import { loadConfig } from '../config.ts';
import { loadRegistry } from '../ops/load.ts';
import { rehearse } from './rehearsal.ts';
import { TaskWorker } from './worker.ts';

const config = loadConfig();
const ops = await loadRegistry(config.opModules);
// A graph of its own first, so the first real graph does not run on code the JIT has not compiled yet.
const rehearsal = await rehearse(config, ops);
const worker = new TaskWorker(config, ops);
await worker.start();
const rehearsed =
  rehearsal.tasks === 0
    ? ''
    : `, rehearsed ${rehearsal.tasks} tasks in ${rehearsal.ms} ms${rehearsal.done ? '' : ' (not finished: given up)'}`;
process.stdout.write(
  `weft worker ${worker.id} running (concurrency ${config.concurrency}, ${ops.list().length} ops${rehearsed})\n`,
);

/** After the grace time, closing connections and threads gets this long before the process exits anyway. */
const CLOSE_MS = 10_000;

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    // A close that hangs (a connection that never answers) must not keep the process alive:
    // its jobs are back in the queue or will be after their locks expire either way.
    setTimeout(() => {
      process.stderr.write(
        `weft worker ${worker.id}: shutdown did not finish within ${config.shutdownMs + CLOSE_MS} ms (stuck at: ${worker.closingStage}); exiting\n`,
      );
      process.exit(1);
    }, config.shutdownMs + CLOSE_MS);
    worker.close(config.shutdownMs).then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`weft worker ${worker.id}: shutdown failed: ${(err as Error).stack ?? String(err)}\n`);
        process.exit(1);
      },
    );
  });
}
