/**
 * The wrapper of completeTasks-6.lua: stores a batch of results, counts down
 * their dependents and returns what became ready, starting the first bundle
 * of it for the caller to continue with (see the script's header).
 */
import { randomBytes } from 'node:crypto';
import type { Placement } from '../dispatch.ts';
import { finishedChannel, graphKeys } from '../keys.ts';
import type { ScriptedRedis } from '../scripts.ts';
import type { Runner, TaskResult } from '../started.ts';
import { readStartedEntries } from './includes/startTask.ts';
import { ReplyReader } from './reply.ts';
import type { StartReply } from './startTasks.ts';

declare module '../scripts.ts' {
  interface ScriptCommands {
    completeTasksBuffer(...args: ScriptArgs): Promise<(Buffer | number | null)[]>;
  }
}

export interface CompleteTasks {
  graph: string;
  results: TaskResult[];
  /** Most ready tasks to start for the caller (0: none, all go to the queue). */
  take: number;
  /** Bundle spread (src/queue/dispatch.ts): how the tasks to start are sized. */
  spread: number;
  /** Most bytes of inputs to return for the tasks started. */
  maxBytes: number;
  runner: Runner;
  /** The pools the caller serves: it continues only with tasks of these. */
  pools: readonly string[];
}

/** A ready task of another graph: it waited for one of these results as an $oid input. */
export interface ReadyElsewhere {
  graph: string;
  task: number;
}

export interface Completion {
  /** The graph's status: 'running' or 'done', or how it had ended when nothing was written. */
  status: string;
  /** Tasks that became ready, for the queue, with where they go. */
  ready: { tasks: number[]; placement: Placement };
  /** Tasks of other graphs that became ready, for the queue too. */
  elsewhere: ReadyElsewhere[];
  /** Tasks of the batch that were done already (a repeated delivery): what they made ready may be queued nowhere. */
  skipped: number[];
  /** The tasks started for the caller to run next. */
  next: StartReply;
}

export async function completeTasks(redis: ScriptedRedis, prefix: string, a: CompleteTasks): Promise<Completion> {
  const k = graphKeys(prefix, a.graph);
  const groups: (number | Buffer)[] = [];
  // Big values go in with HSET just before the script on the same connection, and the script moves them (see its ARGV[9..]).
  const staging: Promise<unknown>[] = [];
  const staged: string[] = [];
  for (const [index, ms, values] of a.results) {
    groups.push(index, Math.round(ms * 1000) / 1000, values.length);
    for (const value of values) {
      if (value.length <= STAGE_FROM_BYTES) {
        groups.push(value);
        continue;
      }
      // Sent on the same connection just before the script, so Redis has it when the script runs.
      const field = `~${randomBytes(6).toString('hex')}:${index}:${staged.length}`;
      staging.push(redis.hset(k.vals, field, value));
      staged.push(field);
      groups.push(Buffer.concat([STAGED, Buffer.from(field)]));
    }
  }
  const [reply] = await Promise.all([
    redis.completeTasksBuffer(
      k.meta,
      k.spec,
      k.pend,
      k.refs,
      k.done,
      k.vals,
      finishedChannel(prefix),
      prefix,
      a.take,
      a.spread,
      a.maxBytes,
      a.runner.worker,
      a.runner.attempt,
      `,${a.pools.join(',')},`,
      ...groups,
    ),
    ...staging,
  ]);
  const completion = readCompletion(new ReplyReader(reply));
  // The graph had ended: the script wrote nothing, so the staged values are the caller's to drop.
  if (staged.length > 0 && completion.status !== 'running' && completion.status !== 'done') {
    await redis.hdel(k.vals, ...staged);
  }
  return completion;
}

/** Values longer than this are staged with HSET rather than passed through the script (INLINE_MAX_BYTES, the same cut as inputs). */
const STAGE_FROM_BYTES = 256 * 1024;
/** The prefix of a staged value's argument: 0xC1 (never MessagePack) '~'. */
const STAGED = Buffer.from([0xc1, 0x7e]);

/** The reply, in the order of the script's Output section. */
function readCompletion(r: ReplyReader): Completion {
  const status = r.string();
  // The graph had ended: the reply is the status alone, and nothing was written.
  if (r.done) return nothingDone(status);
  const tag = r.number();
  const classed = r.number() === 1;
  const n = r.number();
  const tasks = r.times(n, () => r.number());
  const classes = classed ? r.times(n, () => r.string()) : undefined;
  const elsewhere = r.list(() => ({ graph: r.string(), task: r.number() }));
  const skipped = r.list(() => r.number());
  return {
    status,
    ready: { tasks, placement: { tag, classes } },
    elsewhere,
    skipped,
    next: { status: 'running', ...readStartedEntries(r) },
  };
}

function nothingDone(status: string): Completion {
  return {
    status,
    ready: { tasks: [], placement: {} },
    elsewhere: [],
    skipped: [],
    next: { status, run: [], alreadyDone: [], deferred: [] },
  };
}
