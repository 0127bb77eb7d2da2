/**
 * A worker process runs bundles of tasks from the BullMQ queue. For each job:
 *
 *   start (one script: status, specs, inputs) -> run the ops -> complete (one
 *   script: store results, count down dependents, free inputs) -> the tasks
 *   that became ready are run here directly (a bounded continuation) or
 *   enqueued for any worker.
 *
 * The job stays active until its continuation ends, so a worker killed at any
 * point has its job delivered again by BullMQ's stall detection; that delivery
 * finds its tasks done and re-enqueues what they made ready (findLostTasks).
 */
import { availableParallelism, hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Job, Worker } from 'bullmq';
import type { Config } from '../config.ts';
import type { OpRegistry } from '../ops/registry.ts';
import { connect } from '../queue/connection.ts';
import { TaskQueue, poolQueue, type BundleJob } from '../queue/dispatch.ts';
import { opsKey, opsMetaKey, statsKey, storeConfigKey } from '../queue/keys.ts';
import { DurationHistogram } from '../queue/metrics.ts';
import { addHeartbeat, BEATS_PER_TIMEOUT, removeWorker, type ExecutorInfo } from '../queue/workers.ts';
import type { ScriptedRedis } from '../queue/scripts.ts';
import { INLINE_MAX_BYTES, TaskState, type StartedTask, type StartResult } from '../queue/tasks.ts';
import { mayRunAhead, readCarriedStart } from '../queue/carried-start.ts';
import type { Runner } from '../queue/started.ts';
import { joined } from '../store/byte-chunks.ts';
import { SpillFiles } from '../store/spill.ts';
import { storedForm } from '../store/stored-bytes.ts';
import {
  EventLoopEvaluator,
  OpThreadEvaluator,
  RefusingEvaluator,
  type Evaluator,
  type Outcome,
} from './evaluators.ts';
import { ExecutorPool } from './executors/pool.ts';
import {
  executorEnvironment,
  findPython,
  PYTHON_INSTALL_HELP,
  pythonExecutorCommand,
  pythonExecutorEnv,
} from './executors/python.ts';
import { Lineage } from './lineage.ts';
import { OpThreads } from './op-threads.ts';
import { rootOp } from '../graph/template.ts';
import { checkResultSizes } from './task-values.ts';
import { JobOutcomes, type RetryLater } from './job-outcomes.ts';
import { PromptWorker } from './prompt-worker.ts';
import { Spiller } from './spiller.ts';
import { WebhookDeliverer } from './webhooks.ts';
import { Webhooks } from '../queue/webhooks.ts';

/** A continuation runs at most this long before handing the rest to the queue, so other graphs' jobs get their turn. */
const CONTINUE_MS = 50;
/** Tasks that ran faster than this on average count as short (see `process`). */
const SHORT_TASK_MS = 1;

/** The pool that gets the Python executor of this checkout unless WEFT_EXECUTOR_PYTHON says otherwise. */
const PYTHON_POOL = 'python';

/** Exponential backoff before retry `tries` + 1: 100 ms, 200 ms, 400 ms, ... at most 10 s. */
export function retryDelay(tries: number): number {
  return Math.min(10_000, 100 * 2 ** (tries - 1));
}

type WorkerState = 'starting' | 'running' | 'closing' | 'closed';

export class TaskWorker {
  readonly id = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private state: WorkerState = 'starting';
  /** What close() is waiting for, for the message of a shutdown that does not finish. */
  closingStage = '';
  private readonly redis: ScriptedRedis;
  private readonly tasks: TaskState;
  private readonly queue: TaskQueue;
  private workers: Worker<BundleJob>[] = [];
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly abort = new AbortController();
  private readonly startedAt = Date.now();
  private tasksDone = 0;
  /** Tasks run from their job's carried start, before the start's answer (runAhead). */
  private tasksRunAhead = 0;
  private tasksFailed = 0;
  /** Tasks started and not yet completed, over all jobs held. */
  private running = 0;
  private jobs = 0;
  private readonly durations = new DurationHistogram();
  private webhooks: Webhooks | undefined;
  private deliverer: WebhookDeliverer | undefined;
  private readonly files: SpillFiles;
  private readonly spiller: Spiller;
  private readonly lineage: Lineage;
  /** Jobs running now, with their lock tokens. */
  private readonly active = new Map<string, { job: Job<BundleJob>; token: string }>();
  /** Weft ops without a timeout: in this process. */
  private readonly eventLoop: EventLoopEvaluator;
  /** Weft ops with a timeout: on op threads, made when the first such task comes. */
  private opThreads: OpThreadEvaluator | undefined;
  /** Executors of the pools that have them, started with the worker (docs/executors.md). */
  private readonly pools: ExecutorPool[] = [];
  /** The same, by the language they run: where a foreign task goes. */
  private readonly executors = new Map<string, ExecutorPool>();
  /** Foreign tasks of a language this worker has no executor for. */
  private readonly noExecutor = new RefusingEvaluator((task) => ({
    key: task.key,
    op: rootOp(task.template),
    code: 'no_executor',
    message: `This worker (pools ${this.config.pools.join(', ')}) has no executor for ${task.lang} tasks; run them in a pool whose workers have one (WEFT_POOLS and WEFT_EXECUTOR_<POOL>, docs/executors.md).`,
  }));

  constructor(
    private readonly config: Config,
    private readonly ops: OpRegistry,
  ) {
    this.redis = connect(config.redisUrl, `weft-worker-${this.id}`);
    this.tasks = new TaskState(this.redis, config.prefix);
    this.queue = new TaskQueue(this.redis, config.prefix, config);
    this.files = new SpillFiles(config.spillDir, config.spillDirLimit);
    this.spiller = new Spiller(this.redis, config, this.files);
    this.eventLoop = new EventLoopEvaluator(ops, this.abort.signal, config.maxValueBytes);
    this.lineage = new Lineage(this.tasks, this.files, (graph, task) => this.evaluateOne(graph, task));
  }

  async start(): Promise<void> {
    await this.startExecutors();
    await this.publishOps();
    await this.redis.hset(
      storeConfigKey(this.config.prefix),
      'spillmin',
      this.config.spillMinBytes,
      'cachettl',
      this.config.cacheTtl,
      'inlinemax',
      INLINE_MAX_BYTES,
    );
    this.spiller.start();
    await this.beat();
    this.heartbeat = setInterval(
      () => void this.beat().catch(() => {}),
      Math.floor(this.config.workerTimeoutMs / BEATS_PER_TIMEOUT),
    );
    this.heartbeat.unref();
    // One BullMQ worker per pool served, each with the configured concurrency.
    this.workers = this.config.pools.map((pool) => {
      const worker: PromptWorker<BundleJob> = new PromptWorker<BundleJob>(
        poolQueue(pool),
        (job, token): Promise<void> => this.process(job, token, worker.wokeFor(job)),
        {
          connection: connect(this.config.redisUrl, `weft-worker-${this.id}-${pool}`),
          prefix: this.config.prefix,
          concurrency: this.config.concurrency,
          lockDuration: this.config.lockMs,
          stalledInterval: this.config.stalledIntervalMs,
          // A lost worker's job is always delivered again: losing a worker is not the task's fault.
          maxStalledCount: 1_000_000,
        },
        () => this.jobs === 0,
      );
      worker.on('error', () => {});
      return worker;
    });
    this.webhooks = new Webhooks(this.redis, this.config.prefix, this.redis);
    this.deliverer = new WebhookDeliverer(
      this.redis,
      this.config.prefix,
      this.webhooks,
      connect(this.config.redisUrl, `weft-worker-${this.id}-webhooks`),
      { allowPrivate: this.config.allowPrivateTargets },
    );
    this.setState('running');
  }

  /**
   * Stops taking jobs and lets running ones finish (their continuations stop
   * at the current batch). Jobs still running after `graceMs` are handed back
   * to the queue, so other workers take them at once instead of after this
   * one's lock expires; a task that finishes here after all is not lost work
   * either: the first result stored wins.
   */
  async close(graceMs = Infinity): Promise<void> {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.setState('closing');
    clearInterval(this.heartbeat);
    const stage = (name: string) => (this.closingStage = name);
    stage('draining jobs');
    const drained = Promise.all(this.workers.map((w) => w.close()));
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([
      drained.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs))),
    ]);
    clearTimeout(timer);
    if (late) {
      stage('handing jobs back');
      // Not waited for further: the jobs are back in the queue, and what still runs here is dropped on exit.
      await Promise.all([...this.active.values()].map(({ job, token }) => job.moveToWait(token).catch(() => {})));
    }
    stage('closing webhooks');
    await this.deliverer?.close();
    await this.webhooks?.close();
    this.abort.abort();
    stage('closing op threads and executors');
    await Promise.all([this.opThreads?.close(), ...this.pools.map((e) => e.close())]);
    stage('stopping the spiller');
    await this.spiller.stop();
    stage('leaving the registry');
    // The last durations, then out of the registry at once.
    await this.beat().catch(() => {});
    await removeWorker(this.redis, this.config.prefix, this.id).catch(() => {});
    stage('closing the queue');
    await this.queue.close();
    this.redis.disconnect();
    this.setState('closed');
  }

  private setState(next: WorkerState): void {
    this.state = next;
  }

  /**
   * Runs a job, counting the job and its tasks in flight for the registry,
   * and keeping it (with its lock token) in `active` for a shutdown to hand back.
   */
  private async process(job: Job<BundleJob>, token: string | undefined, woken: boolean): Promise<void> {
    const id = job.id ?? '';
    if (token !== undefined) this.active.set(id, { job, token });
    const held = { tasks: 0 };
    this.jobs++;
    try {
      await this.runJob(
        job,
        (n) => {
          held.tasks += n;
          this.running += n;
        },
        woken,
      );
    } finally {
      this.running -= held.tasks;
      this.jobs--;
      this.active.delete(id);
    }
  }

  /** `woken`: this worker was idle and woken for the job, so it was taken as it was queued (PromptWorker). */
  private async runJob(job: Job<BundleJob>, hold: (tasks: number) => void, woken: boolean): Promise<void> {
    const graph = job.data.g;
    // Deliveries after a lost worker count as attempts too, on top of the op-error retry this job may be.
    const stalls = (job.attemptsStarted ?? 1) - 1;
    const tries = job.data.a ?? 1;
    const runner = { worker: this.id, attempt: tries + stalls };
    const carried = this.runAhead(job, woken, stalls, tries);
    const starting = this.tasks.start(graph, job.data.t, runner, job.data.p ?? 0);
    // Run ahead, the start's answer is awaited once the job is over; an error then fails the job like any other.
    starting.catch(() => {});
    try {
      const started: StartResult = carried
        ? { status: 'running', run: carried, alreadyDone: [], deferred: [] }
        : await starting;
      await this.runStarted(graph, started, hold, runner, tries, stalls);
    } finally {
      await starting;
    }
  }

  /**
   * The tasks of a job to run before its start has answered: a small graph's
   * first job carries its start (src/queue/carried-start.ts), and when it was
   * taken as it was queued (`woken`, on its first delivery and try) and calls
   * standard ops only, its tasks run at once and the start is sent without
   * waiting for its answer; the completion, sent after it, reports what the
   * start would have. A job that waited in the queue starts as any other, so
   * a graph cancelled meanwhile runs none of its tasks.
   */
  private runAhead(job: Job<BundleJob>, woken: boolean, stalls: number, tries: number): StartedTask[] | undefined {
    if (!woken || stalls !== 0 || tries !== 1 || !job.data.s) return undefined;
    const carried = readCarriedStart(job.data.s);
    if (!mayRunAhead(carried)) return undefined;
    this.tasksRunAhead += carried.length;
    return carried;
  }

  /** Runs the tasks a start gave, then those their completions make ready, within the continuation's time. */
  private async runStarted(
    graph: string,
    started: StartResult,
    hold: (tasks: number) => void,
    runner: Runner,
    tries: number,
    stalls: number,
  ): Promise<void> {
    const deadline = Date.now() + CONTINUE_MS;
    if (started.status !== 'running') return;
    hold(started.run.length);
    for (const task of started.run) task.tries = tries;
    // Tasks a continuation starts are on their first try.
    runner.attempt = 1 + stalls;
    await this.requeue(graph, started);
    await this.restoreInputs(graph, started.run);
    // Tasks to run, front first. Tasks made ready by a completion go to the
    // front (depth first, as Dask orders work), so consumers run, and free
    // their inputs, before more producers fill the store.
    const todo = started.run;
    const outcomes = new JobOutcomes();
    while (todo.length > 0 || outcomes.busy) {
      this.launchTasks(graph, todo, outcomes);
      // What has finished is completed now; what still runs is completed when it finishes (job-outcomes.ts).
      await outcomes.ready();
      // Shutting down aborted the ops: their jobs were handed back, not failed.
      if (this.abort.signal.aborted) return;
      const { results, retries, failure } = outcomes.take();
      if (failure) {
        this.tasksFailed++;
        await this.tasks.end(graph, 'failed', failure);
        await outcomes.settled();
        return;
      }
      await this.retryLater(graph, retries, stalls);
      hold(-retries.length);
      if (results.length === 0) continue;
      // Continue with the tasks these made ready, within the time budget; the rest go to the queue.
      // Short tasks are kept together (a queue hop would cost more than running them here);
      // long ones are spread over the workers like any burst.
      const short = results.reduce((ms, [, taken]) => ms + taken, 0) / results.length < SHORT_TASK_MS;
      // While the job still has its own tasks to run it takes the consumers too: they free memory.
      const take =
        (todo.length > 0 || outcomes.busy || Date.now() < deadline) && this.state === 'running'
          ? this.config.bundleMax
          : 0;
      try {
        await this.spiller.admit(results.reduce((n, [, , values]) => n + values.reduce((m, v) => m + v.length, 0), 0));
      } catch (err) {
        const { code, message } = err as { code?: string; message: string };
        await this.tasks.end(graph, 'failed', { code: code ?? 'store_full', message, key: todo[0]?.key ?? '', op: '' });
        await outcomes.settled();
        return;
      }
      const completed = await this.tasks.complete(
        graph,
        results,
        take,
        short ? 1 : this.config.bundleSpread,
        runner,
        this.config.pools,
      );
      this.tasksDone += results.length;
      hold(-results.length);
      for (const [, ms] of results) this.durations.observe(ms / 1000);
      await this.queue.enqueue(graph, completed.ready.tasks, completed.ready.placement);
      for (const { graph: other, task } of completed.elsewhere)
        await this.queue.enqueue(other, [task], await this.tasks.placement(other, [task]));
      // Done before this call stored them: what their first completion made ready may be queued nowhere.
      if (completed.skipped.length > 0)
        await this.requeue(graph, { status: 'running', run: [], deferred: [], alreadyDone: completed.skipped });
      // The graph ended (failed or cancelled): tasks still running here are dropped when they finish.
      if (completed.next.status !== 'running') {
        await outcomes.settled();
        return;
      }
      hold(completed.next.run.length);
      await this.requeue(graph, completed.next);
      await this.restoreInputs(graph, completed.next.run);
      todo.unshift(...completed.next.run);
    }
  }

  /**
   * Tasks of a bundle that a lost worker had finished: re-enqueue what they
   * made ready (see findLostTasks-4.lua). Tasks deferred by a full reply go
   * back to the front of the queue.
   */
  private async requeue(graph: string, started: StartResult): Promise<void> {
    if (started.deferred.length > 0)
      await this.queue.enqueue(graph, started.deferred, await this.tasks.placement(graph, started.deferred));
    if (started.alreadyDone.length === 0) return;
    const lost = await this.tasks.findLost(graph, started.alreadyDone);
    if (lost.length > 0) await this.queue.enqueue(graph, lost, await this.tasks.placement(graph, lost));
  }

  /**
   * Starts tasks from the front of `todo` until the results not yet
   * completed reach BATCH_BYTES (so big values are stored, and consumed, a
   * few at a time) or `todo` is empty. A synchronous op's outcome is in when
   * this returns. Tasks for other evaluators are gathered and sent as one
   * batch each (an executor takes a batch per message); tasks with a timeout
   * run on an op thread.
   */
  private launchTasks(graph: string, todo: StartedTask[], outcomes: JobOutcomes): void {
    let batches: Map<Evaluator, StartedTask[]> | undefined;
    while (todo.length > 0 && !outcomes.full && !outcomes.failed) {
      const task = todo.shift()!;
      const evaluator = this.evaluatorFor(task);
      if (evaluator === this.eventLoop) {
        outcomes.start([task], () => evaluator.run(graph, [task], outcomes.sink));
        continue;
      }
      batches ??= new Map();
      const batch = batches.get(evaluator);
      if (batch) batch.push(task);
      else batches.set(evaluator, [task]);
    }
    if (batches)
      for (const [evaluator, tasks] of batches) outcomes.start(tasks, () => evaluator.run(graph, tasks, outcomes.sink));
  }

  /** Failed runs with retries left go back to the queue with a backoff delay. */
  private async retryLater(graph: string, retries: RetryLater[], stalls: number): Promise<void> {
    for (const [task, ms, error] of retries) {
      const tries = task.tries ?? 1;
      if (await this.tasks.retry(graph, task, ms, { worker: this.id, attempt: tries + stalls }, error)) {
        const { classes } = await this.tasks.placement(graph, [task.index]);
        await this.queue.retry(graph, task.index, tries + 1, retryDelay(tries), classes?.[0]);
      }
    }
  }

  /**
   * Gets the inputs of started tasks ready before any runs: large ones the
   * start passed by reference read from Redis in one round trip, spilled ones
   * read back from disk, all at once (a start returns at most START_BYTES of
   * them, and the reads overlap each other and no computation), lost ones
   * computed again from lineage (lineage.ts).
   */
  private async restoreInputs(graph: string, tasks: StartedTask[]): Promise<void> {
    // Most tasks have every input in the reply: nothing to wait for, no promise made.
    const incomplete = tasks.filter((t) => t.inputs.some((v) => storedForm(v) !== 'value'));
    if (incomplete.length === 0) return;
    await this.tasks.fetchReferenced(incomplete);
    await Promise.all(incomplete.map((task) => this.lineage.complete(graph, task)));
    const recomputed = this.lineage.take();
    if (recomputed > 0) await this.redis.hincrby(statsKey(this.config.prefix), 'lineage_recomputes', recomputed);
  }

  /**
   * Starts the executors of the pools this worker serves: WEFT_EXECUTOR_<POOL>,
   * or for the pool "python" the Python executor of this checkout. A pool
   * whose executors cannot start stops the worker, naming the command.
   */
  private async startExecutors(): Promise<void> {
    for (const pool of this.config.pools) {
      let command = this.config.executorCommands.get(pool)?.split(/\s+/);
      let extraEnv: Record<string, string> = {};
      if (!command && pool === PYTHON_POOL) {
        const found = findPython();
        if (!found.python) {
          throw new Error(
            `This worker serves the pool "python" but found no Python with cloudpickle and msgpack (${found.tried.join('; ')}): ${PYTHON_INSTALL_HELP}, or set WEFT_EXECUTOR_PYTHON.`,
          );
        }
        command = pythonExecutorCommand(found.python);
        extraEnv = pythonExecutorEnv(this.config.executorEnv);
      }
      if (!command) continue;
      const executors = new ExecutorPool({
        pool,
        command,
        env: executorEnvironment(this.config.executorEnv, extraEnv),
        size: this.config.executorsPerPool,
        maxValueBytes: this.config.maxValueBytes,
      });
      try {
        await executors.start();
      } catch (err) {
        await executors.close();
        throw err;
      }
      this.pools.push(executors);
      if (!this.executors.has(executors.lang)) this.executors.set(executors.lang, executors);
    }
  }

  /** The evaluator of a task: its language's executors, op threads for a timeout, else this event loop. */
  private evaluatorFor(task: StartedTask): Evaluator {
    if (task.lang) return this.executors.get(task.lang) ?? this.noExecutor;
    if (task.timeoutMs) {
      this.opThreads ??= new OpThreadEvaluator(
        new OpThreads(this.config.opModules, Math.max(1, Math.min(this.config.concurrency, availableParallelism()))),
        (task, values) => checkResultSizes(task, values, this.config.maxValueBytes),
      );
      return this.opThreads;
    }
    return this.eventLoop;
  }

  /** One task's stored values, evaluated as the job loop would (lineage recomputes with it); throws its error. */
  private async evaluateOne(graph: string, task: StartedTask): Promise<Buffer[]> {
    let outcome: Outcome | undefined;
    await this.evaluatorFor(task).run(graph, [task], (_, o) => (outcome = o));
    if (!outcome) throw new Error(`No outcome for task ${task.key}.`);
    if ('values' in outcome) return outcome.values.map(joined);
    throw outcome.error;
  }

  /** What the registry shows of this worker's executors. */
  private executorInfo(): ExecutorInfo[] {
    return [...this.pools].map((e) => e.info());
  }

  private async publishOps(): Promise<void> {
    const ops = this.ops.list();
    await this.redis
      .multi()
      .hset(opsKey(this.config.prefix), ...ops.flatMap(({ name, description }) => [name, description]))
      .hset(
        opsMetaKey(this.config.prefix),
        ...ops.flatMap(({ name, version, deterministic }) => [name, `${version}|${deterministic ? 1 : 0}`]),
      )
      .exec();
  }

  /** One write per heartbeat interval: the registry entry and the task durations since the last beat. */
  private async beat(): Promise<void> {
    const multi = this.redis.multi();
    addHeartbeat(
      multi,
      this.config.prefix,
      {
        id: this.id,
        host: hostname(),
        pid: process.pid,
        concurrency: this.config.concurrency,
        running: this.running,
        jobs: this.jobs,
        tasks_done: this.tasksDone,
        tasks_failed: this.tasksFailed,
        tasks_run_ahead: this.tasksRunAhead,
        started: this.startedAt,
        heartbeat: Date.now(),
        pools: this.config.pools,
        executors: this.executorInfo(),
      },
      this.config.workerTimeoutMs,
    );
    const drained = this.durations.drainInto(multi, this.config.prefix);
    try {
      const results = (await multi.exec()) ?? [];
      for (const [err] of results) if (err) throw err;
    } catch (err) {
      drained.restore();
      throw err;
    }
  }
}
