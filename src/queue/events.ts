/**
 * Reading a graph's lifecycle events (the stream the scheduling scripts
 * write; layout in src/queue/scripts/includes/events.lua). An entry holds a
 * batch of events of one type; here each becomes its own event with its own
 * sequence number.
 */
import type { Redis } from 'ioredis';
import type { components } from '../shared/openapi-types.ts';
import type { OutputSpec } from '../graph/plan.ts';
import { oidTree } from './graphs.ts';
import { graphKeys } from './keys.ts';

/** The outputs of a graph as futures, from its meta's `out` (the scripts do not build object ids). */
function outputsOf(graph: string, out: string | null): unknown {
  return out === null ? null : oidTree(graph, JSON.parse(out) as OutputSpec);
}

/** A lifecycle event, as the API sends it (docs/events.md). */
export type GraphEvent = components['schemas']['GraphEvent'];
export type EventType = GraphEvent['type'];

interface Details {
  k?: string[];
  ms?: number[];
  b?: number[];
  w?: string;
  a?: number;
  ok?: boolean;
  error?: unknown;
  retry?: boolean;
  tasks?: number;
  ready?: number;
  status?: string;
  cache_hits?: number;
  cache_misses?: number;
  presubmitted?: number;
}

/** Turns one stream entry into its events. */
export function expandEntry(graph: string, fields: string[]): GraphEvent[] {
  const f: Record<string, string> = {};
  for (let i = 0; i < fields.length; i += 2) f[fields[i]] = fields[i + 1];
  const d = JSON.parse(f.d ?? '{}') as Details;
  const n = Number(f.n);
  const out: GraphEvent[] = [];
  for (let i = 0; i < n; i++) {
    const e: GraphEvent = { seq: Number(f.s) + i, type: f.t as EventType, graph, time: Number(f.at) };
    if (d.k) e.key = d.k[i];
    if (d.w !== undefined) e.worker = d.w;
    if (d.a !== undefined) e.attempt = d.a;
    if (d.ms) e.duration_ms = d.ms[i];
    if (d.b) e.bytes = d.b[i];
    if (d.ok !== undefined) e.ok = d.ok;
    if (d.error !== undefined) e.error = d.error;
    if (d.retry) e.retry = true;
    if (d.tasks !== undefined) e.tasks = d.tasks;
    if (d.ready !== undefined) e.ready = d.ready;
    if (d.status !== undefined) e.status = d.status;
    if (d.cache_hits !== undefined) e.cache_hits = d.cache_hits;
    if (d.cache_misses !== undefined) e.cache_misses = d.cache_misses;
    if (d.presubmitted !== undefined) e.presubmitted = d.presubmitted;
    out.push(e);
  }
  return out;
}

export class EventLog {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /** Events from sequence number `from` on, as far as recorded now; `after` is a stream position to continue from. */
  async read(graph: string, from = 0, after = '-'): Promise<{ events: GraphEvent[]; last: string }> {
    const keys = graphKeys(this.prefix, graph);
    const events: GraphEvent[] = [];
    let last = after;
    for (;;) {
      const start = last === '-' ? '-' : `(${last}`;
      const entries = await this.redis.xrange(keys.events, start, '+', 'COUNT', 1000);
      for (const [id, fields] of entries) {
        last = id;
        for (const e of expandEntry(graph, fields)) {
          if (e.seq < from) continue;
          // The finish event carries the outputs, from the graph's meta (the scripts do not build object ids).
          if (e.type === 'finish') e.outputs = outputsOf(graph, await this.redis.hget(keys.meta, 'out'));
          events.push(e);
        }
      }
      if (entries.length < 1000) return { events, last };
    }
  }

  /**
   * Every event from `from` on, then new ones as they are recorded, ending
   * after `finish` (or when `signal` aborts). Polls the stream: no blocking
   * connection per follower.
   */
  async *follow(graph: string, from: number, signal: AbortSignal, pollMs = 50): AsyncGenerator<GraphEvent> {
    let after = '-';
    while (!signal.aborted) {
      const { events, last } = await this.read(graph, from, after);
      after = last;
      for (const e of events) {
        yield e;
        from = e.seq + 1;
        if (e.type === 'finish') return;
      }
      if (events.length === 0) await new Promise((r) => setTimeout(r, pollMs));
    }
  }
}

/** A task's timings, derived from its events (GET /v1/graphs/{id}/tasks). */
export type TaskTiming = components['schemas']['TaskTiming'];

/** Per task: when it was enqueued, started and finished, on which worker, how often it was tried (from its events). */
export function taskTimings(events: GraphEvent[]): TaskTiming[] {
  const byKey = new Map<string, TaskTiming>();
  const get = (key: string) => {
    let t = byKey.get(key);
    if (!t)
      byKey.set(
        key,
        (t = {
          key,
          submitted: null,
          started: null,
          finished: null,
          queue_wait_ms: null,
          run_ms: null,
          worker: null,
          attempts: 0,
          ok: null,
        }),
      );
    return t;
  };
  for (const e of events) {
    if (e.key === undefined) continue;
    const t = get(e.key);
    if (e.type === 'postsubmit') t.submitted ??= e.time;
    if (e.type === 'pretask') {
      t.started = e.time;
      t.worker = e.worker ?? null;
      t.attempts++;
    }
    if (e.type === 'posttask') {
      t.finished = e.time;
      t.run_ms = e.duration_ms ?? null;
      t.ok = e.ok ?? null;
    }
  }
  for (const t of byKey.values())
    if (t.submitted !== null && t.started !== null) t.queue_wait_ms = t.started - t.submitted;
  return [...byKey.values()];
}
