/**
 * A job that carries its start: the specs and input values of its tasks, as
 * startTasks would return them, written into the job by the API that
 * registers a small graph (`BundleJob.s`).
 *
 * A worker woken for such a job runs its tasks at once and sends startTasks
 * and then completeTasks without waiting for startTasks's answer in between:
 * one round trip fewer on the path of every small compute. Redis runs the two
 * in the order they were sent (one connection), so the graph still moves to
 * running, and the pretask event still comes before the posttask one. What the
 * start would have told the worker, the completion tells it too: a graph that
 * has ended takes no result, and a task done already (a job delivered twice)
 * is skipped and returned for findLostTasks. See src/workers/worker.ts for
 * when a worker does this, and "The round trips of a small compute" in
 * docs/architecture.md.
 *
 * Only tasks whose inputs are all data of their own graph are carried (their
 * values are in the API's hands, and they are immutable); at most
 * CARRY_MAX_BYTES per job. Only tasks of standard ops run ahead of the start's
 * answer (`mayRunAhead`).
 */
import { pack, unpack } from 'msgpackr';
import { templateOps } from '../graph/fingerprint.ts';
import { isStandardOp } from '../ops/index.ts';
import { readStartedEntries } from './scripts/includes/startTask.ts';
import { ReplyReader } from './scripts/reply.ts';
import type { StartedTask } from './started.ts';

/** Most bytes of specs and inputs a job carries (a job's data is Redis memory while it waits, and JSON). */
export const CARRY_MAX_BYTES = 8 * 1024;

/** A task to carry: its node index, its spec as stored, and its input values as stored, by slot. */
export interface CarriedTask {
  index: number;
  spec: Buffer;
  inputs: Buffer[];
}

/**
 * The carried start of a job's tasks, for `BundleJob.s`; undefined when they
 * take more than CARRY_MAX_BYTES. The entries are laid out as startTasks-4.lua
 * returns them (index, 0, spec, n, inputs), so the worker reads them with the
 * same reader.
 */
export function carriedStart(tasks: readonly CarriedTask[]): string | undefined {
  let bytes = 0;
  const entries: (number | Buffer)[] = [];
  for (const { index, spec, inputs } of tasks) {
    bytes += spec.length;
    entries.push(index, 0, spec, inputs.length);
    for (const input of inputs) {
      bytes += input.length;
      entries.push(input);
    }
    if (bytes > CARRY_MAX_BYTES) return undefined;
  }
  return pack(entries).toString('base64');
}

/**
 * May a worker run these tasks before startTasks has answered? Only when
 * every op they call is a standard one: the graph may have ended (cancelled,
 * or refused at its registration: its job goes out with it) in between, and
 * then the results are discarded, which must leave no other trace. An
 * operator's op or a foreign call may write, send or print; its job waits
 * for the start like any other.
 */
export function mayRunAhead(tasks: readonly StartedTask[]): boolean {
  for (const task of tasks) {
    if (task.lang) return false;
    for (const op of templateOps(task.template)) if (!isStandardOp(op)) return false;
  }
  return true;
}

/** The tasks a job carries, as startTasks would have started them. */
export function readCarriedStart(carried: string): StartedTask[] {
  const entries = unpack(Buffer.from(carried, 'base64')) as unknown[];
  return readStartedEntries(new ReplyReader(entries)).run;
}
