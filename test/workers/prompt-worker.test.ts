/**
 * PromptWorker against a real Redis and BullMQ: a job that wakes an idle
 * worker reaches the processor without waiting for another fetch, and a
 * burst is still taken many jobs at a time.
 */
import { Queue, Worker, type Job, type Processor } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PromptWorker } from '../../src/workers/prompt-worker.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';

let redis: TestRedis;
let queueNumber = 0;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

interface Probe {
  /** Each `moveToActive` answer, in order: the id of the job it gave, or null. */
  fetched: (string | null)[];
  /** For each job: how many fetches had answered after the one that gave it, when the processor began. */
  fetchesBefore: Map<string, number>;
  inProcess: number;
  mostInProcess: number;
}

/** A worker of `kind` on a fresh queue, whose fetches are recorded; `work` runs in its processor. */
async function workerOn(kind: 'prompt' | 'bullmq', work: (job: Job) => Promise<void>) {
  const name = `prompt-${queueNumber++}`;
  const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue(name, { connection });
  const probe: Probe = { fetched: [], fetchesBefore: new Map(), inProcess: 0, mostInProcess: 0 };
  const processor: Processor = async (job) => {
    const mine = probe.fetched.indexOf(job.id!);
    probe.fetchesBefore.set(job.id!, probe.fetched.length - 1 - mine);
    probe.mostInProcess = Math.max(probe.mostInProcess, ++probe.inProcess);
    try {
      await work(job);
    } finally {
      probe.inProcess--;
    }
  };
  const opts = { connection: new Redis(redis.url, { maxRetriesPerRequest: null }), concurrency: 50 };
  const worker =
    kind === 'prompt'
      ? new PromptWorker(name, processor, opts, () => probe.inProcess === 0)
      : new Worker(name, processor, opts);
  // Recorded where BullMQ's loop calls it, on the instance.
  const fetch = worker as unknown as { moveToActive(token: string, name?: string): Promise<Job | undefined> };
  const moveToActive = fetch.moveToActive.bind(worker);
  fetch.moveToActive = async (token, jobName) => {
    const job = await moveToActive(token, jobName);
    probe.fetched.push(job?.id ?? null);
    return job;
  };
  await worker.waitUntilReady();
  const close = async () => {
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
    connection.disconnect();
  };
  return { queue, worker, probe, close };
}

/** Adds jobs one at a time, each once the worker is idle again and blocked on the queue. */
async function oneAtATime(queue: Queue, worker: Worker, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    // Long enough for the worker to be back in its blocking wait.
    await new Promise((r) => setTimeout(r, 50));
    const done = new Promise<void>((resolve) => {
      const onDone = (job: Job) => {
        if (job.name !== `job-${i}`) return;
        worker.off('completed', onDone);
        resolve();
      };
      worker.on('completed', onDone);
    });
    await queue.add(`job-${i}`, { i });
    await done;
  }
}

describe('PromptWorker', () => {
  it('gives a job that wakes an idle worker to the processor before fetching again', async () => {
    const { queue, worker, probe, close } = await workerOn('prompt', async () => {});
    try {
      await oneAtATime(queue, worker, 5);
      expect(probe.fetchesBefore.size).toBe(5);
      expect([...probe.fetchesBefore.values()]).toEqual([0, 0, 0, 0, 0]);
    } finally {
      await close();
    }
  });

  it("relies on BullMQ's loop fetching once more before it processes (what PromptWorker changes)", async () => {
    // Not for every job (it depends on what else its loop holds), but for some of a few. If an
    // upgrade of BullMQ stops doing this, PromptWorker is no longer needed; if it renames the
    // fields PromptWorker sets, the test above fails.
    const { queue, worker, probe, close } = await workerOn('bullmq', async () => {});
    try {
      await oneAtATime(queue, worker, 8);
      expect(Math.max(...probe.fetchesBefore.values())).toBeGreaterThanOrEqual(1);
    } finally {
      await close();
    }
  });

  it('takes a burst that wakes it many jobs at a time, and runs every job once', async () => {
    const ran: number[] = [];
    const { queue, probe, close } = await workerOn('prompt', async (job) => {
      await new Promise((r) => setTimeout(r, 20));
      ran.push(job.data.i as number);
    });
    try {
      await new Promise((r) => setTimeout(r, 50));
      await queue.addBulk(Array.from({ length: 200 }, (_, i) => ({ name: `job-${i}`, data: { i } })));
      const deadline = Date.now() + 20_000;
      while (ran.length < 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(ran.slice().sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i));
      expect(probe.mostInProcess).toBeGreaterThanOrEqual(10);
    } finally {
      await close();
    }
  });
});
