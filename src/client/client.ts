/**
 * The HTTP client of weft: submit graphs, compute and persist collections,
 * put/get/release objects, follow a graph's events. One instance per service
 * URL; the most recent one is the default of `compute()` and `persist()`
 * called on a collection without a client.
 *
 *   const client = new Client({ url: 'http://127.0.0.1:8080' });
 *   const total = await client.compute(delayed('add')(1, 2)); // 3
 */
import type { components } from '../shared/openapi-types.ts';
import { decodeValue, encodeValue } from '../shared/codec.ts';
import { NDArray } from '../shared/values/ndarray.ts';
import { Frame } from '../shared/values/frame.ts';
import { type Computable, type Persistable, isComputable } from './delayed.ts';
import { type ObjectRef, isObjectRef, mergeLayers } from './graph.ts';
import { type Runner, setDefaultRunner } from './runner.ts';

type Schemas = components['schemas'];
/** POST /v1/graphs's body; fields with defaults may be left out. */
export type GraphRequest = Partial<Omit<Schemas['GraphRequest'], 'options' | 'presubmit'>> &
  Pick<Schemas['GraphRequest'], 'keys'> & { options?: GraphOptions; presubmit?: Presubmit };
/** The presubmit hook (the seed's ray_presubmit): a URL weft asks for task values before enqueueing. */
export type Presubmit = DeepPartial<Schemas['GraphRequest']['presubmit']> & { url: string };
export type GraphOutcome = Schemas['GraphOutcome'];
export type GraphInfo = Schemas['GraphInfo'];
export type TaskTiming = Schemas['TaskTiming'];
type DeepPartial<T> = { [K in keyof T]?: NonNullable<T[K]> extends object ? DeepPartial<NonNullable<T[K]>> : T[K] };
/** `options` of a graph request (docs/graph-format.md); every field has a default. */
export type GraphOptions = DeepPartial<Schemas['GraphOptions']>;

/** A lifecycle event of a graph (docs/events.md). */
export interface GraphEvent {
  type: 'postsubmit' | 'pretask' | 'posttask' | 'postsubmit_all' | 'finish';
  seq: number;
  time: number;
  key?: string;
  [field: string]: unknown;
}

/** What compute and persist pass on to POST /v1/graphs besides the graph. */
export interface SubmitOptions {
  options?: GraphOptions;
  callbacks?: GraphRequest['callbacks'];
  presubmit?: Presubmit;
  ttl?: number;
}

/** The service refused a request: `code` is one of docs/errors.md. */
export class WeftError extends Error {
  override readonly name = 'WeftError';
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly details: Record<string, unknown> = {},
  ) {
    super(`${code}: ${message}`);
  }
}

/** A task failed on a worker (or the graph was cancelled): its key, op, message and the remote stack. */
export class RemoteTaskError extends Error {
  override readonly name = 'RemoteTaskError';
  readonly key: string | undefined;
  readonly op: string | undefined;
  readonly code: string | undefined;
  readonly remoteStack: string | undefined;
  constructor(
    readonly graph: string,
    readonly error: Schemas['TaskError'],
  ) {
    super(error.key ? `task ${JSON.stringify(error.key)} (${error.op}) failed: ${error.message}` : error.message);
    this.key = error.key;
    this.op = error.op;
    this.code = error.code;
    this.remoteStack = error.stack;
  }
}

export interface ClientOptions {
  url: string;
  /** Sent as `Authorization: Bearer` when the service has tokens. */
  token?: string;
  /** Become the default client of collections (default true). */
  asDefault?: boolean;
}

/** How long one request holds for a graph to end; longer computes ask again. */
const WAIT_SECONDS = 60;

export class Client implements Runner {
  readonly url: string;
  private readonly token: string | undefined;

  constructor(options: ClientOptions) {
    if (!/^https?:\/\//.test(options.url))
      throw new TypeError(`Client: url must start with http:// or https://, got ${JSON.stringify(options.url)}.`);
    this.url = options.url.replace(/\/+$/, '');
    this.token = options.token;
    if (options.asDefault !== false) setDefaultRunner(this);
  }

  /** POST /v1/graphs as it is: the outcome (202 while running unless `wait` covers it). */
  submit(request: GraphRequest): Promise<GraphOutcome> {
    return this.outcome('POST', '/v1/graphs', request);
  }

  /**
   * Runs a JSON graph for `keys` (a key or nested lists of keys) and returns
   * the result shaped like them; a failed task throws RemoteTaskError.
   */
  async run(graph: Record<string, unknown>, keys: GraphRequest['keys'], options: SubmitOptions = {}): Promise<unknown> {
    const outcome = await this.finish(await this.submit({ graph, keys, wait: WAIT_SECONDS, ...options }));
    return outcome.result;
  }

  /**
   * Computes a Delayed value or a collection (an NDArray for an Array, rows
   * for a DataFrame), or a list of them in one graph (shared tasks run once).
   */
  async compute<T extends unknown[] = unknown[]>(things: Computable[], options?: SubmitOptions): Promise<T>;
  async compute<T = unknown>(thing: Computable, options?: SubmitOptions): Promise<T>;
  async compute(thing: Computable | Computable[], options: SubmitOptions = {}): Promise<unknown> {
    const list = Array.isArray(thing) ? thing : [thing];
    for (const t of list)
      if (!isComputable(t))
        throw new TypeError(
          'compute: give a Delayed value, an Array or a DataFrame (or a list of them); run JSON graphs with client.run(graph, keys).',
        );
    const targets = list.map((t) => t.target());
    const results = (await this.run(
      mergeLayers(targets.map((t) => t.layers)),
      targets.map((t) => t.key),
      options,
    )) as unknown[];
    const revived = results.map((r, i) => targets[i].revive(r));
    return Array.isArray(thing) ? revived : revived[0];
  }

  /**
   * Starts computing and returns at once with a handle (Dask's
   * `client.compute` future): its graph id, events, task timings and result.
   */
  async start<T = unknown>(thing: Computable, options: SubmitOptions = {}): Promise<Computation<T>> {
    const target = thing.target();
    const outcome = await this.submit({ graph: mergeLayers([target.layers]), keys: target.key, ...options });
    return new Computation<T>(this, outcome, target.revive as (v: unknown) => T);
  }

  /**
   * Dask's persist: starts computing and returns at once with the same
   * collection standing on futures, which later computes reuse instead of
   * recomputing. Release it with `release(persisted)` when done.
   */
  async persist<T>(thing: Persistable<T>, options: SubmitOptions = {}): Promise<T> {
    const plan = thing.persistPlan();
    const outcome = await this.submit({
      graph: mergeLayers([plan.layers]),
      keys: plan.keys,
      persist: true,
      ...options,
    });
    const persisted = plan.rebuild(outcome.outputs as ObjectRef[]);
    futures.set(persisted as object, outcome.outputs as ObjectRef[]);
    return persisted;
  }

  /** Stores a value (Ray's put): JSON values as JSON, NDArrays, Frames and bytes as MessagePack (binary). */
  async put(value: unknown, options: { ttl?: number } = {}): Promise<ObjectRef> {
    const binary = value instanceof NDArray || value instanceof Frame || value instanceof Uint8Array;
    const query = options.ttl === undefined ? '' : `?ttl=${options.ttl}`;
    return this.json(
      'POST',
      `/v1/objects${query}`,
      binary ? encodeValue(value) : value,
      binary ? 'application/msgpack' : undefined,
    );
  }

  /** An object's value (waiting up to `wait` seconds while it is computed), decoded from MessagePack: NDArray, Frame, bytes or JSON values. */
  async get(oid: string | ObjectRef, options: { wait?: number } = {}): Promise<unknown> {
    const id = typeof oid === 'string' ? oid : oid.$oid;
    const res = await this.fetch(
      'GET',
      `/v1/objects/${encodeURIComponent(id)}?wait=${options.wait ?? WAIT_SECONDS}`,
      undefined,
      undefined,
      'application/msgpack',
    );
    if (res.status === 202)
      throw new WeftError('object_pending', `Object ${id} is still being computed; get it again or wait longer.`, 202, {
        oid: id,
      });
    if (!res.ok) throw await errorOf(res);
    return decodeValue(new Uint8Array(await res.arrayBuffer()));
  }

  /** Releases objects: futures, lists of them, or a collection returned by persist. */
  async release(what: ObjectRef | string | readonly (ObjectRef | string)[] | object): Promise<void> {
    const oids =
      typeof what === 'string'
        ? [what]
        : isObjectRef(what)
          ? [what.$oid]
          : Array.isArray(what)
            ? what.map((o) => (typeof o === 'string' ? o : o.$oid))
            : (futures.get(what) ?? []).map((o) => o.$oid);
    if (oids.length === 0)
      throw new TypeError('release: give object refs, object ids, or a collection returned by persist().');
    for (const oid of oids) {
      const res = await this.fetch('DELETE', `/v1/objects/${encodeURIComponent(oid)}`);
      if (!res.ok && res.status !== 404) throw await errorOf(res);
      await res.body?.cancel();
    }
  }

  /** A graph's status and progress. */
  status(id: string): Promise<GraphInfo> {
    return this.json('GET', `/v1/graphs/${encodeURIComponent(id)}`);
  }

  cancel(id: string): Promise<GraphInfo> {
    return this.json('DELETE', `/v1/graphs/${encodeURIComponent(id)}`);
  }

  /** The ops the workers have, by name. */
  /**
   * GET /healthz: whether the API, Redis and workers answer, and the service's `version` and `api_version`,
   * to compare with this SDK's VERSION and API_VERSION (a service older than the SDK may lack what it sends).
   * A 503 (Redis down) is answered too, with `ok: false`.
   */
  async health(): Promise<components['schemas']['Health']> {
    const res = await this.fetch('GET', '/healthz');
    if (!res.ok && res.status !== 503) throw await errorOf(res);
    return (await res.json()) as components['schemas']['Health'];
  }

  async ops(): Promise<{ name: string; description: string }[]> {
    return ((await this.json('GET', '/v1/ops')) as { ops: { name: string; description: string }[] }).ops;
  }

  /**
   * A graph's events, recorded ones first, then live ones as they happen,
   * ending after `finish` (Server-Sent Events; `from` skips earlier ones).
   */
  async *events(id: string, options: { from?: number; signal?: AbortSignal } = {}): AsyncGenerator<GraphEvent> {
    const query = options.from === undefined ? '' : `?from=${options.from}`;
    const res = await this.fetch(
      'GET',
      `/v1/graphs/${encodeURIComponent(id)}/events${query}`,
      undefined,
      undefined,
      'text/event-stream',
      options.signal,
    );
    if (!res.ok || !res.body) throw await errorOf(res);
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const message = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const data = message
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trimStart())
          .join('\n');
        if (!data) continue;
        const event = JSON.parse(data) as GraphEvent;
        yield event;
        if (event.type === 'finish') return;
      }
    }
  }

  /** Per task of a graph: when it was enqueued, started and finished, its queue wait, run time, worker and attempts. */
  async tasks(id: string): Promise<TaskTiming[]> {
    return ((await this.json('GET', `/v1/graphs/${encodeURIComponent(id)}/tasks`)) as { tasks: TaskTiming[] }).tasks;
  }

  /** Waits for a submitted graph to end; throws RemoteTaskError unless it is done. */
  async finish(outcome: GraphOutcome): Promise<GraphOutcome> {
    while (outcome.status === 'queued' || outcome.status === 'running') {
      outcome = await this.outcome('GET', `/v1/graphs/${encodeURIComponent(outcome.id)}/result?wait=${WAIT_SECONDS}`);
    }
    if (outcome.status !== 'done')
      throw new RemoteTaskError(
        outcome.id,
        outcome.error ?? { message: `graph ${outcome.id} ended ${outcome.status}` },
      );
    return outcome;
  }

  /** A graph outcome, read as MessagePack so array chunks and frames come back binary (NDArray, Frame). */
  private async outcome(method: string, path: string, body?: unknown): Promise<GraphOutcome> {
    const res = await this.fetch(method, path, body, undefined, 'application/msgpack');
    if (!res.ok) throw await errorOf(res);
    // Answers without values (persist's) come as JSON whatever was asked.
    if (res.headers.get('content-type')?.startsWith('application/json')) return (await res.json()) as GraphOutcome;
    return decodeValue(new Uint8Array(await res.arrayBuffer())) as GraphOutcome;
  }

  private async json<T>(method: string, path: string, body?: unknown, type?: string): Promise<T> {
    const res = await this.fetch(method, path, body, type);
    if (!res.ok) throw await errorOf(res);
    return (await res.json()) as T;
  }

  private async fetch(
    method: string,
    path: string,
    body?: unknown,
    type?: string,
    accept = 'application/json',
    signal?: AbortSignal,
  ): Promise<Response> {
    const headers: Record<string, string> = { accept };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let payload: RequestInit['body'];
    if (body !== undefined) {
      headers['content-type'] = type ?? 'application/json';
      payload = type === undefined ? JSON.stringify(body) : (body as unknown as RequestInit['body']);
    }
    try {
      return await fetch(`${this.url}${path}`, { method, headers, body: payload, signal });
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw new WeftError(
        'unreachable',
        `weft at ${this.url} did not answer ${method} ${path}: ${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}.`,
        0,
      );
    }
  }
}

/** A computation started with `client.start`. */
export class Computation<T> {
  readonly id: string;
  private done: Promise<T> | undefined;

  constructor(
    private readonly client: Client,
    private readonly submitted: GraphOutcome,
    private readonly revive: (value: unknown) => T,
  ) {
    this.id = submitted.id;
  }

  /** The result, once the graph is done (a failed task throws RemoteTaskError). */
  result(): Promise<T> {
    this.done ??= this.client.finish(this.submitted).then((o) => this.revive(o.result));
    return this.done;
  }

  events(options: { from?: number; signal?: AbortSignal } = {}): AsyncGenerator<GraphEvent> {
    return this.client.events(this.id, options);
  }

  tasks(): Promise<TaskTiming[]> {
    return this.client.tasks(this.id);
  }

  status(): Promise<GraphInfo> {
    return this.client.status(this.id);
  }

  cancel(): Promise<GraphInfo> {
    return this.client.cancel(this.id);
  }
}

/** The futures behind collections returned by persist, for release(). */
const futures = new WeakMap<object, ObjectRef[]>();

async function errorOf(res: Response): Promise<WeftError> {
  const text = await res.text();
  try {
    const { error } = JSON.parse(text) as { error: { code: string; message: string } & Record<string, unknown> };
    const { code, message, ...details } = error;
    return new WeftError(code, message, res.status, details);
  } catch {
    return new WeftError('http_error', `HTTP ${res.status}: ${text.slice(0, 200)}`, res.status);
  }
}
