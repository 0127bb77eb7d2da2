/**
 * The wrapper of completeTasks-6.lua: stores a batch of results, counts down
 * their dependents and returns what became ready, starting the first bundle
 * of it for the caller to continue with (see the script's header).
 */
import { randomBytes } from 'node:crypto';
import { joined, pieces, type ValueBytes } from '../../store/byte-chunks.ts';
import type { Placement } from '../dispatch.ts';
import { finishedChannel, graphKeys, type GraphKeys } from '../keys.ts';
import type { ScriptedRedis } from '../scripts.ts';
import type { Runner, TaskResult } from '../started.ts';
import { readStartedEntries } from './includes/startTask.ts';
import { hsetnxUncopied } from '../uncopied.ts';
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
  // A big value goes to its own field before the script, not through its arguments (see its ARGV[9..]).
  const token = randomBytes(6).toString('hex');
  const ahead: Promise<Buffer>[] = [];
  for (const [index, ms, values, multi] of a.results) {
    groups.push(index, Math.round(ms * 1000) / 1000, values.length);
    values.forEach((value, j) => {
      if (value.length <= WRITE_AHEAD_FROM_BYTES) {
        groups.push(joined(value));
        return;
      }
      const field = multi ? `${index}:${j}` : String(index);
      groups.push(WRITTEN); // replaced by its marker below
      const at = groups.length - 1;
      ahead.push(
        writeAhead(redis, k, field, value, token).then((wrote) => {
          const marker = Buffer.concat([WRITTEN, Buffer.from(`${wrote ? 1 : 0}${token}:${field}`)]);
          groups[at] = marker;
          return marker;
        }),
      );
    });
  }
  await Promise.all(ahead);
  const reply = await redis.completeTasksBuffer(
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
  );
  return readCompletion(new ReplyReader(reply));
}

/**
 * Writes a big value to its field unless the field holds one already, then
 * marks the field as this run's in `staged` unless it is marked. Whether the
 * value was written goes to the script, which drops only a value this run
 * wrote and nothing took.
 *
 * Two commands, sent together on one connection, not a MULTI: in a MULTI,
 * ioredis copies the value twice (about 70 ms for 64 MiB), here not at all
 * (src/queue/uncopied.ts). Every order of two runs' commands is safe: the
 * completion takes whatever the field holds, and a run drops the value only
 * when it wrote it and `staged` still names it. A worker that dies between
 * the two leaves a value no mark names: it stays until the graph's values go.
 */
async function writeAhead(
  redis: ScriptedRedis,
  k: GraphKeys,
  field: string,
  value: ValueBytes,
  token: string,
): Promise<boolean> {
  const [wrote] = await Promise.all([
    hsetnxUncopied(redis, k.vals, field, pieces(value)),
    redis.hsetnx(k.staged, field, token),
  ]);
  return wrote === 1;
}

/** Values longer than this are written ahead of the script rather than passed through it (INLINE_MAX_BYTES, the same cut as inputs). */
const WRITE_AHEAD_FROM_BYTES = 256 * 1024;
/** The prefix of the argument that stands for a value written ahead: 0xC1 (never MessagePack) '='. */
const WRITTEN = Buffer.from([0xc1, 0x3d]);

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
