/** Entry point of a worker process: `npm run worker`. */
import { loadConfig } from '../config.ts';
import { loadRegistry } from '../ops/load.ts';
import { TaskWorker } from './worker.ts';

const config = loadConfig();
const ops = await loadRegistry(config.opModules);
const worker = new TaskWorker(config, ops);
await worker.start();
process.stdout.write(`weft worker ${worker.id} running (concurrency ${config.concurrency}, ${ops.list().length} ops)\n`);

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    void worker.close(config.shutdownMs).then(() => process.exit(0));
  });
}
