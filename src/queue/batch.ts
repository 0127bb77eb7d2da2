/**
 * Commands queued, then sent back to back on one connection in one socket
 * write, with a reply for each: what registration used ioredis pipelines for.
 *
 * Why not a pipeline: an ioredis Pipeline defines a `length` accessor with a
 * closure of its own in its constructor, so every pipeline gets a hidden
 * class of its own. Hidden classes live in old space, and that one holds the
 * closure, the closure the pipeline, and the pipeline its commands, arguments
 * and replies: all of it survives young-generation collections until the
 * next full one. With a pipeline per submitted graph, each of the API's
 * scavenges promoted 2 to 3 MB under load (about 0.45 MB with batches); in a
 * loop of two-command round trips, pipelines promoted 2.8 MB per scavenge and
 * paused it 4.1 ms, plain commands nothing and 0.56 ms (docs/benchmarks.md,
 * session 9). A pipeline also copies every script of its connection when made
 * (weft's and BullMQ's: tens of microseconds).
 */
import type { Command } from 'ioredis';
import type { Socket } from 'node:net';
import type { ScriptedRedis } from './scripts.ts';

/** A command of the connection (Redis's or one of weft's scripts) by its method name. */
type CommandName = keyof ScriptedRedis & string;

/** A reply, as ioredis gives a pipeline's: the error, or null and the result. */
export type BatchReply = [Error | null, unknown];

export class CommandBatch {
  private readonly sends: (() => Promise<unknown>)[] = [];

  constructor(private readonly redis: ScriptedRedis) {}

  get length(): number {
    return this.sends.length;
  }

  /** Queues `name` (`hset`, `setbit`, a script such as `openGraph`...) with its keys and arguments. */
  add(name: CommandName, ...args: (string | number | Buffer)[]): this {
    const redis = this.redis;
    this.sends.push(() => (redis[name] as (...a: unknown[]) => Promise<unknown>).apply(redis, args));
    return this;
  }

  /** Queues a command built beforehand (src/queue/hash-fields.ts). */
  sendCommand(command: Command): this {
    this.sends.push(() => this.redis.sendCommand(command) as Promise<unknown>);
    return this;
  }

  /**
   * Sends every queued command, in order, in one write (the socket is corked
   * while they are written; a Cluster connection sends them one by one), and
   * resolves with their replies once all are in.
   */
  exec(): Promise<BatchReply[]> {
    const socket = (this.redis as { stream?: Socket }).stream;
    const cork = socket !== undefined && typeof socket.cork === 'function';
    if (cork) socket.cork();
    let replies: Promise<unknown>[];
    try {
      replies = this.sends.map((send) => send());
    } finally {
      if (cork) socket.uncork();
    }
    return Promise.all(
      replies.map((reply) =>
        reply.then(
          (result): BatchReply => [null, result],
          (err: Error): BatchReply => [err, null],
        ),
      ),
    );
  }
}
