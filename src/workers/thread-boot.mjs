// Entry of an op thread (op-threads.ts): a worker thread does not inherit the
// tsx loader of its process, so under tsx (the entry is op-thread.ts) it
// registers it here, then loads the real entry, whose URL it is given.
// Compiled (dist/, the entry is op-thread.js), tsx is not loaded at all.
import { workerData } from 'node:worker_threads';

if (workerData.entry.endsWith('.ts')) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import(workerData.entry);
