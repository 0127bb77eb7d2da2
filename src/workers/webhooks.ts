/**
 * Delivers webhooks (src/queue/webhooks.ts): each job sends the events of one
 * graph not yet delivered to one receiver, at most BATCH of them, as one
 * signed POST, then enqueues the next job, at once if more are waiting, after
 * BATCH_DELAY_MS otherwise, so events are batched by count and by delay.
 * A failed POST throws: BullMQ retries the job with exponential backoff.
 *
 * Signature (docs/webhooks.md): weft-timestamp: <ms>, weft-signature:
 * v1=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the secret>.
 */
import { createHmac } from 'node:crypto';
import { UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { ForbiddenTargetError, postJson, type TargetPolicy } from '../net/targets.ts';
import { EventLog } from '../queue/events.ts';
import { graphKeys, statsKey } from '../queue/keys.ts';
import { type Webhooks, WEBHOOK_QUEUE, type WebhookJob } from '../queue/webhooks.ts';

const BATCH = 2000;
const BATCH_DELAY_MS = 1000;
const TIMEOUT_MS = 10_000;
/** A receiver's answer is read and dropped; past this it is cut off. */
const ANSWER_BYTES = 1 << 20;

export function sign(secret: string, timestamp: string, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export class WebhookDeliverer {
  private readonly worker: Worker<WebhookJob>;
  private readonly events: EventLog;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly hooks: Webhooks,
    connection: ConnectionOptions,
    private readonly targets: TargetPolicy,
  ) {
    this.events = new EventLog(redis, prefix);
    this.worker = new Worker<WebhookJob>(WEBHOOK_QUEUE, (job) => this.deliver(job), {
      connection,
      prefix,
      concurrency: 16,
    });
    this.worker.on('error', () => {});
  }

  close(): Promise<void> {
    return this.worker.close();
  }

  private async deliver(job: Job<WebhookJob>): Promise<void> {
    const { g, i } = job.data;
    const key = graphKeys(this.prefix, g).hooks;
    const [url, types, secret, cursorRaw, status] = await this.redis.hmget(
      key,
      `${i}:url`,
      `${i}:events`,
      `${i}:secret`,
      `${i}:cursor`,
      `${i}:status`,
    );
    if (!url || status !== 'delivering') return;
    const cursor = Number(cursorRaw);
    const wanted = types ? new Set(types.split(',')) : null;
    const { events: all } = await this.events.read(g, cursor);
    const batch = all.slice(0, BATCH);
    const events = wanted ? batch.filter((e) => wanted.has(e.type)) : batch;
    const finished = batch.some((e) => e.type === 'finish');
    if (events.length > 0) {
      const body = JSON.stringify({ graph: g, events });
      const timestamp = String(Date.now());
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'weft-timestamp': timestamp,
        'user-agent': 'weft-webhooks',
      };
      if (secret) headers['weft-signature'] = sign(secret, timestamp, body);
      let error: string | null = null;
      let refused = false;
      try {
        const res = await postJson(url, body, {
          headers,
          timeoutMs: TIMEOUT_MS,
          maxResponseBytes: ANSWER_BYTES,
          policy: this.targets,
          what: 'The webhook URL',
        });
        if (res.status < 200 || res.status > 299) error = `HTTP ${res.status} from ${url}`;
      } catch (err) {
        refused = err instanceof ForbiddenTargetError;
        error = refused ? (err as Error).message : `${(err as Error).name}: ${(err as Error).message}`;
      }
      if (error) {
        // A refused target (its name now resolves to a private address) is not retried: it would be refused again.
        const last = refused || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
        const multi = this.redis
          .multi()
          .hincrby(key, `${i}:attempts`, 1)
          .hset(key, `${i}:error`, error, ...(last ? [`${i}:status`, 'failed'] : []));
        multi.hincrby(statsKey(this.prefix), 'webhook_failures', 1);
        if (last) multi.hincrby(statsKey(this.prefix), 'webhooks_failed', 1);
        await multi.exec();
        throw refused ? new UnrecoverableError(error) : new Error(error);
      }
      await this.redis
        .multi()
        .hincrby(key, `${i}:deliveries`, 1)
        .hincrby(statsKey(this.prefix), 'webhook_deliveries', 1)
        .exec();
    }
    const next = batch.length > 0 ? batch[batch.length - 1].seq + 1 : cursor;
    await this.redis.hset(key, `${i}:cursor`, next, ...(finished ? [`${i}:status`, 'done'] : []));
    if (finished) return;
    // More than a batch waiting: go on at once; otherwise collect for a while.
    const delay = all.length > BATCH ? 0 : BATCH_DELAY_MS;
    if (!(await this.redis.exists(graphKeys(this.prefix, g).meta))) return;
    await this.hooks.queue.add('deliver', { g, i }, { delay });
  }
}
