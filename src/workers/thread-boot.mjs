// Entry of an op thread (op-threads.ts): a worker thread does not inherit the
// tsx loader of its process, so it registers it here, then loads the real
// entry, op-thread.ts, whose URL it is given.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
