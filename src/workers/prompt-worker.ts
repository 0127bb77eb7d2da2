/**
 * BullMQ's Worker, changed in one thing: how an idle worker hands on the job
 * it was woken for.
 *
 * BullMQ's main loop fetches jobs one after another until it holds
 * `concurrency` of them or a fetch finds none, and only then gives them to
 * the processor. A worker woken from its blocking wait with one job therefore
 * asks Redis for a second one (`moveToActive`, which finds none) and, unless
 * its loop holds something else, waits for that answer before the first job
 * starts: a round trip on the path of a small graph (0.26 ms of a 3 ms compute
 * at the median on a 2-core machine; "The round trips of a small compute" in
 * docs/architecture.md).
 *
 * Here, a job that wakes a worker with no job in hand marks the queue drained
 * (BullMQ's own flag for "the last fetch found nothing"), so the loop's next
 * fetch is a blocking wait, and the loop gives the job to the processor at
 * once while that wait goes on. The wait returns at once when more jobs are
 * queued (BullMQ's `moveToActive` leaves a marker behind), so a burst is still
 * taken; a worker that already has jobs fetches exactly as BullMQ does.
 *
 * `drained` and `waiting` are private fields of BullMQ's Worker (6.x);
 * test/workers/prompt-worker.test.ts fails if an upgrade changes them.
 */
import { Worker, type Job, type JobJson, type Processor, type WorkerOptions } from 'bullmq';

/** The private fields of BullMQ's Worker this class reads and sets. */
interface FetchState {
  /** The loop's next fetch blocks on the queue's marker instead of asking for a job at once. */
  drained: boolean;
  /** The blocking wait in progress, if any (set while the job it woke for is fetched). */
  waiting: Promise<number> | null;
}

export class PromptWorker<T> extends Worker<T> {
  /** Jobs this worker was woken for while it held none (see `wokeFor`). */
  private readonly woken = new WeakSet<Job<T>>();

  constructor(
    name: string,
    processor: Processor<T>,
    opts: WorkerOptions,
    /** Has the worker process no job in hand (of any of its queues)? */
    private readonly idle: () => boolean,
  ) {
    super(name, processor, opts);
  }

  protected override async nextJobFromJobData(jobData?: JobJson, jobId?: string, token?: string): Promise<Job<T>> {
    const state = this as unknown as FetchState;
    const woken = state.waiting !== null && state.waiting !== undefined;
    const job = await super.nextJobFromJobData(jobData, jobId, token);
    if (job && woken && this.idle()) {
      state.drained = true;
      this.woken.add(job);
    }
    return job;
  }

  /**
   * Was this worker idle, and woken for `job`? Then the job was taken as it
   * was queued, not after waiting behind others (src/queue/carried-start.ts).
   */
  wokeFor(job: Job<T>): boolean {
    return this.woken.has(job);
  }
}
