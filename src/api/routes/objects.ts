/** Routes of /v1/objects: put (ray.put), get, meta, release. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decodeValue, encodeValue } from '../../shared/codec.ts';
import { checkValueSize, jsonReplacer } from '../../store/values.ts';
import type { ObjectMeta } from '../../queue/objects.ts';
import type { RequestContext } from '../../store/tenants.ts';
import { ApiError } from '../errors.ts';
import { routeSchema } from '../schemas.ts';

const MSGPACK = 'application/msgpack';
const BYTES = 'application/octet-stream';

export default async function objectRoutes(app: FastifyInstance): Promise<void> {
  const { graphs, objects, finished, config } = app.weft;

  // Binary bodies arrive as Buffers, in this plugin only.
  app.addContentTypeParser([BYTES, MSGPACK], { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.post<{ Querystring: { ttl?: number } }>(
    '/v1/objects',
    { schema: routeSchema('putObject') },
    async (req, reply) => {
      const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
      let encoded: Buffer;
      if (type === MSGPACK) {
        const bytes = req.body as Buffer;
        try {
          decodeValue(bytes);
        } catch (err) {
          throw new ApiError('invalid_msgpack', `The body is not valid MessagePack: ${(err as Error).message}`);
        }
        encoded = bytes;
      } else if (type === BYTES) {
        encoded = encodeValue(req.body as Buffer);
      } else {
        encoded = encodeJson(req.body);
      }
      checkValueSize(encoded, config.maxValueBytes, 'The value');
      const oid = await graphs.put(req.ctx, encoded, req.query.ttl ?? 0);
      return reply.code(201).send({ $oid: oid });
    },
  );

  app.get<{ Params: { oid: string }; Querystring: { wait?: number } }>(
    '/v1/objects/:oid',
    { schema: routeSchema('getObject') },
    async (req, reply) => {
      const { oid } = req.params;
      let meta = await find(req.ctx, oid);
      if (meta.state === 'pending' && req.query.wait) {
        await finished.wait(
          meta.graph,
          req.query.wait * 1000,
          async () => (await find(req.ctx, oid)).state !== 'pending',
        );
        meta = await find(req.ctx, oid);
      }
      if (meta.state === 'pending') return reply.code(202).send(meta);
      if (meta.state === 'failed') throw failed(meta);
      if ((req.headers.accept ?? '').includes(MSGPACK)) {
        // The stored bytes as they are: streamed from the spill file when the object is on disk.
        const stored = await objects.locate(oid);
        if (!stored) throw notFound(oid);
        if ('bytes' in stored) return reply.type(MSGPACK).send(stored.bytes);
        const stream = stored.file.createReadStream({ start: stored.offset, end: stored.offset + stored.length - 1 });
        return reply.type(MSGPACK).header('content-length', stored.length).send(stream);
      }
      const bytes = await objects.read(oid);
      if (!bytes) throw notFound(oid);
      return sendValue(req, reply, oid, bytes);
    },
  );

  app.get<{ Params: { oid: string } }>('/v1/objects/:oid/meta', { schema: routeSchema('getObjectMeta') }, async (req) =>
    find(req.ctx, req.params.oid),
  );

  app.delete<{ Params: { oid: string } }>('/v1/objects/:oid', { schema: routeSchema('releaseObject') }, async (req) => {
    await find(req.ctx, req.params.oid);
    if (!(await graphs.release(req.params.oid))) throw notFound(req.params.oid);
    return { oid: req.params.oid, released: true };
  });

  async function find(request: RequestContext, oid: string): Promise<ObjectMeta> {
    const [meta] = await objects.states(request, [oid]);
    if (!meta) throw notFound(oid);
    return meta;
  }
}

/** JSON.parse takes nesting the encoder cannot: such a body is the client's to fix, not an internal error. */
function encodeJson(value: unknown): Buffer {
  try {
    return encodeValue(value);
  } catch (err) {
    if (err instanceof RangeError)
      throw new ApiError(
        'invalid_request',
        'The value is nested too deeply to store (arrays and objects thousands of levels deep); flatten it.',
      );
    throw err;
  }
}

/** The value in the type the client accepts, other than the stored MessagePack (sent as it is by the route): JSON by default, or raw bytes. */
function sendValue(req: FastifyRequest, reply: FastifyReply, oid: string, bytes: Buffer): FastifyReply {
  const accept = req.headers.accept ?? '';
  const value = decodeValue(bytes);
  if (accept.includes(BYTES) && !accept.includes('json')) {
    if (!(value instanceof Uint8Array))
      throw new ApiError(
        'not_acceptable',
        `Object ${oid} is not a bytes value; ask for application/json or ${MSGPACK}.`,
        { oid },
      );
    return reply.type(BYTES).send(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  }
  return reply.type('application/json; charset=utf-8').send(JSON.stringify(value ?? null, jsonReplacer));
}

function notFound(oid: string): ApiError {
  return new ApiError(
    'object_not_found',
    `No object has id ${JSON.stringify(oid)}: it never existed, was released, or its time to live passed.`,
    { oid },
  );
}

function failed(meta: ObjectMeta): ApiError {
  const cause = meta.error as { message?: string } | null;
  return new ApiError(
    'object_failed',
    `Object ${meta.oid} has no value: the graph computing it (${meta.graph}) ended without it${cause?.message ? `: ${cause.message}` : ''}.`,
    { oid: meta.oid, graph: meta.graph, cause: meta.error ?? null },
  );
}
