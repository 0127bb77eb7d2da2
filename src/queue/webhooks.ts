/**
 * Webhooks of a graph: their settings and delivery state in Redis, and the
 * BullMQ queue whose jobs deliver them. One job per webhook at a time (each
 * delivery job enqueues the next), so a receiver sees a graph's events in
 * order; the computation never waits for a receiver.
 *
 *   P:{g}:hooks  hash: n, <i>:url, <i>:events, <i>:secret, <i>:status,
 *                <i>:cursor (next sequence number to deliver), <i>:deliveries,
 *                <i>:attempts, <i>:error
 */
import { Queue, type ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { components } from '../shared/openapi-types.ts';
import { graphKeys } from './keys.ts';

export const WEBHOOK_QUEUE = 'webhooks';

/** A webhook as a request gives it. */
export type Callback = components['schemas']['Callback'];

export interface WebhookJob {
  g: string;
  i: number;
}

/** A webhook's delivery state, as GET /v1/graphs/{id}/webhooks shows it (without the secret). */
export type WebhookState = components['schemas']['WebhookStatus'] & { secret: string | null };

export class Webhooks {
  readonly queue: Queue<WebhookJob>;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    connection: ConnectionOptions,
  ) {
    this.queue = new Queue<WebhookJob>(WEBHOOK_QUEUE, {
      connection,
      prefix,
      // Failed deliveries are retried with exponential backoff: 0.5 s, 1 s, 2 s, ... about 4 minutes in all.
      defaultJobOptions: {
        removeOnComplete: true,
        removeOnFail: { count: 1000 },
        attempts: 10,
        backoff: { type: 'exponential', delay: 500 },
      },
    });
    this.queue.on('error', () => {});
  }

  /** Records a graph's callbacks and starts delivering. `ttl`: the graph's retention (0: none); the state is kept a day longer. */
  async register(graph: string, callbacks: Callback[], ttl: number): Promise<void> {
    if (callbacks.length === 0) return;
    const fields: Record<string, string | number> = { n: callbacks.length };
    callbacks.forEach((c, i) => {
      fields[`${i}:url`] = c.url;
      fields[`${i}:events`] = (c.events ?? []).join(',');
      if (c.secret) fields[`${i}:secret`] = c.secret;
      fields[`${i}:status`] = 'delivering';
      fields[`${i}:cursor`] = 0;
      fields[`${i}:deliveries`] = 0;
      fields[`${i}:attempts`] = 0;
    });
    const key = graphKeys(this.prefix, graph).hooks;
    const pipe = this.redis.multi().hset(key, fields);
    if (ttl > 0) pipe.expire(key, ttl + 24 * 3600);
    await pipe.exec();
    await this.queue.addBulk(callbacks.map((_, i) => ({ name: 'deliver', data: { g: graph, i } })));
  }

  async states(graph: string): Promise<WebhookState[]> {
    const h = await this.redis.hgetall(graphKeys(this.prefix, graph).hooks);
    return Array.from({ length: Number(h.n ?? 0) }, (_, i) => ({
      url: h[`${i}:url`],
      events: h[`${i}:events`] ? h[`${i}:events`].split(',') : null,
      secret: h[`${i}:secret`] ?? null,
      status: h[`${i}:status`] as WebhookState['status'],
      delivered_until: Number(h[`${i}:cursor`]),
      deliveries: Number(h[`${i}:deliveries`]),
      attempts: Number(h[`${i}:attempts`]),
      last_error: h[`${i}:error`] ?? null,
    }));
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
