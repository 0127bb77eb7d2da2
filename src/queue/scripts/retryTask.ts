/**
 * The wrapper of retryTask-1.lua: a task whose op threw, with retries left,
 * stops counting as running and a posttask event records the failed run.
 */
import { graphKeys } from '../keys.ts';
import type { ScriptedRedis } from '../scripts.ts';
import type { Runner, TaskErrorBody } from '../started.ts';

declare module '../scripts.ts' {
  interface ScriptCommands {
    retryTask(...args: ScriptArgs): Promise<number>;
  }
}

export interface RetryTask {
  graph: string;
  /** The task's key, for the event. */
  key: string;
  /** How long the failed run took (ms). */
  ms: number;
  /** Who ran it, and as which attempt. */
  runner: Runner;
  error: TaskErrorBody;
}

/** True when the graph still runs (enqueue the retry), false when it has ended. */
export async function retryTask(redis: ScriptedRedis, prefix: string, a: RetryTask): Promise<boolean> {
  const reply = await redis.retryTask(
    graphKeys(prefix, a.graph).meta,
    a.key,
    Math.round(a.ms * 1000) / 1000,
    a.runner.worker,
    a.runner.attempt,
    JSON.stringify(a.error),
  );
  return reply === 1;
}
