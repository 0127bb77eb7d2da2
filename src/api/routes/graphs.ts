/** Routes of /v1/graphs: submit (src/queue/submit.ts does the submitting), status, result, cancel. */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { splitPackedBody } from '../../graph/graph-packed.ts';
import { splitGraphBody } from '../../graph/graph-text.ts';
import type { ObjectField } from '../../graph/plan.ts';
import { resultOf, type GraphInfo, type GraphStatus } from '../../queue/graphs.ts';
import type { GraphRequest } from '../../queue/submit.ts';
import { encodeValue } from '../../shared/codec.ts';
import type { components } from '../../shared/openapi-types.ts';
import { jsonReplacer } from '../../store/values.ts';
import { ApiError } from '../errors.ts';
import { decodeRequestBody, jsonBodyParser, takesBody } from '../plugins/bodies.ts';
import { routeSchema } from '../schemas.ts';

type GraphOutcome = components['schemas']['GraphOutcome'];

const ENDED = new Set(['done', 'failed', 'cancelled']);
const MSGPACK = 'application/msgpack';

export default async function graphRoutes(app: FastifyInstance): Promise<void> {
  const { graphs, tasks, finished, servedPools, submitter } = app.weft;

  /** Answers with a graph's outcome: its result when done, its error when failed or cancelled. */
  async function outcome(reply: FastifyReply, id: string, knownOutputs?: ObjectField[]): Promise<FastifyReply> {
    const binary = acceptsMsgpack(reply);
    const found = await graphs.outcome(reply.request.ctx, id, knownOutputs, binary);
    if (!found) throw notFound(id);
    const { info, result } = found;
    const body: GraphOutcome = { id, status: info.status, outputs: info.outputs };
    if (info.error) body.error = info.error;
    return answer(reply, body, result, binary);
  }

  // A MessagePack body is the same request, with binary literals (bytes, arrays, partitions, foreign values);
  // a graph's entries are read one at a time (src/graph/graph-packed.ts).
  app.addContentTypeParser(MSGPACK, { parseAs: 'buffer' }, (req, body, done) => {
    // An empty body where none is expected (a DELETE) is no body.
    if ((body as Buffer).length === 0 && !takesBody(req)) return done(null, undefined);
    try {
      done(null, decodeRequestBody(body as Buffer, splitPackedBody));
    } catch (err) {
      done(new ApiError('invalid_msgpack', `The body is not valid MessagePack: ${(err as Error).message}`), undefined);
    }
  });

  // A graph sent as JSON stays in its text until it is parsed, one key at a time (src/graph/graph-text.ts).
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'buffer' },
    jsonBodyParser((text) => splitGraphBody(text) ?? JSON.parse(text)),
  );

  app.post<{ Body: GraphRequest }>('/v1/graphs', { schema: routeSchema('submitGraph') }, async (req, reply) => {
    const binary = req.headers['content-type']?.startsWith(MSGPACK) ?? false;
    const submitted = await submitter.submit(req.ctx, req.body, { binary });
    const { id, outputs, outputFields } = submitted;
    // A persisted graph's answer is its futures, never its values (they may be big): 202 whatever the status.
    if (req.body.persist)
      return sendJson(reply, 202, { id, status: (await graphs.status(req.ctx, id)) ?? 'queued', outputs });
    // Done with a small result, which came with the graph's end: answered without reading the graph again.
    if (submitted.doneValues) {
      const asStored = acceptsMsgpack(reply);
      const result = resultOf(submitted.outputSpec, outputFields, submitted.doneValues, asStored);
      return answer(reply, { id, status: 'done', outputs }, result, asStored);
    }
    return outcome(reply, id, outputFields);
  });

  app.get<{ Querystring: { limit?: number; status?: GraphStatus } }>(
    '/v1/graphs',
    { schema: routeSchema('listGraphs') },
    async (req) => ({
      graphs: await graphs.list(req.ctx, req.query.limit ?? 50, req.query.status),
    }),
  );

  app.get<{ Params: { id: string } }>('/v1/graphs/:id', { schema: routeSchema('getGraph') }, async (req, reply) => {
    const found = await graphs.infoAndPools(req.ctx, req.params.id);
    if (!found) throw notFound(req.params.id);
    const { info, pools } = found;
    if (info.status === 'queued' || info.status === 'running') {
      const served = await servedPools.get();
      const waiting = pools.filter((p) => !served.has(p));
      if (waiting.length > 0) info.waiting_for_pools = waiting;
    }
    return sendJson(reply, 200, info);
  });

  app.get<{ Params: { id: string }; Querystring: { wait?: number } }>(
    '/v1/graphs/:id/result',
    { schema: routeSchema('getGraphResult') },
    async (req, reply) => {
      const { id } = req.params;
      if (!(await graphs.status(req.ctx, id))) throw notFound(id);
      const wait = req.query.wait ?? 0;
      if (wait > 0)
        await finished.wait(id, wait * 1000, async () => ENDED.has((await graphs.status(req.ctx, id)) ?? 'done'));
      return outcome(reply, id);
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/graphs/:id',
    { schema: routeSchema('cancelGraph') },
    async (req, reply) => {
      const { id } = req.params;
      if (!(await graphs.status(req.ctx, id))) throw notFound(id);
      await tasks.end(id, 'cancelled', {
        code: 'cancelled',
        message: 'The graph was cancelled by a client (DELETE /v1/graphs/{id}).',
      });
      const info = (await graphs.info(req.ctx, id)) as GraphInfo;
      return sendJson(reply, 200, info);
    },
  );
}

/** Values stay binary for clients that read MessagePack (the SDKs do): their stored bytes, never decoded here. */
function acceptsMsgpack(reply: FastifyReply): boolean {
  return reply.request.headers.accept?.includes(MSGPACK) ?? false;
}

/** Answers with a graph's outcome: 200 when it ended (with its result when done), 202 while it runs. */
function answer(reply: FastifyReply, body: GraphOutcome, result: unknown, binary: boolean): FastifyReply {
  const status = ENDED.has(body.status) ? 200 : 202;
  if (binary)
    return reply
      .code(status)
      .type(MSGPACK)
      .send(encodeWithStored(body, body.status === 'done', result));
  if (body.status === 'done') body.result = result;
  return sendJson(reply, status, body);
}

function notFound(id: string): ApiError {
  return new ApiError(
    'graph_not_found',
    `No graph has id ${JSON.stringify(id)}: it never existed, or its retention time passed.`,
    { id },
  );
}

/**
 * The MessagePack of `body` with a `result` field whose leaves are stored
 * values, written as they are: a 64 MiB array is copied once into the answer,
 * never decoded and encoded again (and a 64-bit integer keeps every digit).
 */
function encodeWithStored(body: Record<string, unknown>, withResult: boolean, result: unknown): Buffer {
  const fields = Object.entries(body).filter(([, v]) => v !== undefined);
  const parts: Buffer[] = [mapHeader(fields.length + (withResult ? 1 : 0))];
  for (const [name, value] of fields) parts.push(encodeValue(name), encodeValue(value));
  if (withResult) {
    parts.push(encodeValue('result'));
    const add = (v: unknown): void => {
      if (Buffer.isBuffer(v)) parts.push(v);
      else if (Array.isArray(v)) {
        parts.push(arrayHeader(v.length));
        for (const item of v) add(item);
      } else parts.push(encodeValue(v ?? null));
    };
    add(result);
  }
  return Buffer.concat(parts);
}

function mapHeader(n: number): Buffer {
  return n < 16 ? Buffer.from([0x80 | n]) : Buffer.from([0xde, n >> 8, n & 0xff]);
}

function arrayHeader(n: number): Buffer {
  if (n < 16) return Buffer.from([0x90 | n]);
  const b = Buffer.allocUnsafe(5);
  b[0] = 0xdd;
  b.writeUInt32BE(n, 1);
  return b;
}

/** Results may hold typed arrays and bytes, which need the value codec's JSON form. */
function sendJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send(JSON.stringify(body, jsonReplacer));
}
