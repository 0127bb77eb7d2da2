/**
 * Holds every JSON response to its schema in openapi.yaml, closed: a field
 * the contract does not declare fails the response as surely as a wrong type.
 * The tests turn it on (buildApp's `checkResponses`), so the responses of the
 * whole suite are checked; a service runs without it.
 *
 * Why both this and the serializer: objects a route returns go through
 * Fastify's serializer with the same schemas, which writes only the declared
 * fields, so a field missing from the contract would be dropped silently; and
 * routes that send ready JSON text (results with typed arrays need the value
 * codec's JSON form) bypass the serializer. This check sees both before they
 * leave: the object before serialization, the text before it is sent.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { openApi, responseSchemas, type Operation } from '../schemas.ts';

type Obj = Record<string, unknown>;

/** The schema each response must match, by route, method and status; null where none is documented as JSON. */
const schemas = new Map<string, Obj | null>();

async function responseCheck(app: FastifyInstance): Promise<void> {
  app.addHook('preSerialization', async (req, reply, payload) => {
    check(req, reply, payload);
    return payload;
  });
  app.addHook('onSend', async (req, reply, payload) => {
    if (typeof payload === 'string' && isJson(reply)) check(req, reply, JSON.parse(payload));
    return payload;
  });
}

function isJson(reply: FastifyReply): boolean {
  return String(reply.getHeader('content-type') ?? '').startsWith('application/json');
}

/** Throws (the response becomes a 500 naming the mismatch) when `body` does not match the contract. */
function check(req: FastifyRequest, reply: FastifyReply, body: unknown): void {
  const schema = schemaOf(req.routeOptions.url, req.method, reply.statusCode);
  if (!schema) return;
  // The validator may coerce and fill defaults: it gets a copy, as the client would see it.
  const validate = req.compileValidationSchema(schema);
  if (validate(JSON.parse(JSON.stringify(body)))) return;
  const [first] = validate.errors ?? [];
  throw new Error(
    `The response of ${req.method} ${req.routeOptions.url} (${reply.statusCode}) does not match openapi.yaml: ` +
      `${first?.instancePath || '/'} ${first?.message ?? 'is invalid'} ${JSON.stringify(first?.params ?? {})}`,
  );
}

function schemaOf(url: string | undefined, method: string, status: number): Obj | null {
  if (url === undefined) return null;
  const id = `${method} ${url} ${status}`;
  if (!schemas.has(id)) {
    const op = operationOf(url, method);
    const json = op && responseSchemas(op)[String(status)]?.['application/json'];
    schemas.set(id, json ? closed(json) : null);
  }
  return schemas.get(id)!;
}

/** The operation of a Fastify route (`/v1/graphs/:id` is the path `/v1/graphs/{id}`). */
function operationOf(url: string, method: string): Operation | undefined {
  const path = url.replace(/:(\w+)/g, '{$1}');
  return openApi().paths[path]?.[method.toLowerCase()];
}

/** Keywords of OpenAPI that are not JSON Schema. */
const DROP = new Set(['example', 'discriminator', 'xml', 'externalDocs', 'deprecated', 'description']);

/**
 * A response schema with its component references inlined and every object
 * that lists its properties closed to others (unless it says otherwise).
 */
function closed(node: unknown): Obj {
  return close(node) as Obj;
}

function close(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(close);
  if (typeof node !== 'object' || node === null) return node;
  const o = node as Obj;
  if (typeof o.$ref === 'string') return close(openApi().components.schemas[o.$ref.split('/').pop()!]);
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) {
    if (DROP.has(k)) continue;
    out[k] =
      k === 'properties' ? Object.fromEntries(Object.entries(v as Obj).map(([p, s]) => [p, close(s)])) : close(v);
  }
  if (out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

export default fp(responseCheck, { name: 'weft-response-check' });
