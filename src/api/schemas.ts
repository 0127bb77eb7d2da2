/**
 * Route schemas come from openapi.yaml, the contract: component schemas are
 * added to Fastify as shared schemas (`$ref: 'Name#'`), and each route asks
 * for its operation's body, query, params and response schemas by operationId.
 * Every documented response is in the route's schema, by status and media
 * type: an object a route returns as JSON goes through Fastify's serializer
 * with it. Routes that send ready JSON text (results may hold typed arrays,
 * which need the value codec's JSON form) are held to the same schemas by
 * the response check the tests turn on (plugins/response-check.ts).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifySchema } from 'fastify';
import { parse } from 'yaml';

const specPath = fileURLToPath(new URL('../../openapi.yaml', import.meta.url));

type Obj = Record<string, unknown>;

interface OpenApi {
  info: { version: string; 'x-api-version': number };
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, Obj>;
    parameters: Record<string, Parameter>;
    responses: Record<string, { content?: Record<string, { schema: Obj }> }>;
  };
}
interface Parameter {
  name: string;
  in: 'path' | 'query';
  required?: boolean;
  schema: Obj;
  description?: string;
}
export interface Operation {
  operationId: string;
  parameters?: (Parameter | { $ref: string })[];
  requestBody?: { content: Record<string, { schema: Obj }> };
  responses: Record<string, { $ref?: string; content?: Record<string, { schema: Obj }> }>;
}

let cached: OpenApi | undefined;
export function openApi(): OpenApi {
  return (cached ??= parse(readFileSync(specPath, 'utf8')) as OpenApi);
}

/** OpenAPI-only keywords that are not JSON Schema. */
const DROP = new Set(['example', 'discriminator', 'xml', 'externalDocs', 'deprecated']);

/** Rewrites `#/components/schemas/X` to Fastify's shared-schema form `X#`, dropping non-JSON-Schema keywords. */
function toJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (typeof node !== 'object' || node === null) return node;
  const out: Obj = {};
  for (const [k, v] of Object.entries(node)) {
    if (DROP.has(k)) continue;
    if (k === '$ref' && typeof v === 'string' && v.startsWith('#/components/schemas/'))
      out.$ref = `${v.slice('#/components/schemas/'.length)}#`;
    else out[k] = k === 'properties' ? mapValues(v as Obj, toJsonSchema) : toJsonSchema(v);
  }
  return out;
}

function mapValues(o: Obj, fn: (v: unknown) => unknown): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) out[k] = fn(v);
  return out;
}

export function addSharedSchemas(app: FastifyInstance): void {
  for (const [name, schema] of Object.entries(openApi().components.schemas)) {
    app.addSchema({ $id: name, ...(toJsonSchema(schema) as Obj) });
  }
}

/** The operation of an operationId, with its path. */
export function operation(operationId: string): { path: string; op: Operation } {
  for (const [path, methods] of Object.entries(openApi().paths)) {
    for (const op of Object.values(methods)) if (op.operationId === operationId) return { path, op };
  }
  throw new Error(`openapi.yaml has no operation ${operationId}`);
}

/** An operation's responses: status -> media type -> schema (OpenAPI form, `#/components/...` references). */
export function responseSchemas(op: Operation): Record<string, Record<string, Obj>> {
  const out: Record<string, Record<string, Obj>> = {};
  for (const [status, declared] of Object.entries(op.responses)) {
    const r = declared.$ref ? openApi().components.responses[declared.$ref.split('/').pop()!] : declared;
    for (const [media, { schema }] of Object.entries(r.content ?? {})) (out[status] ??= {})[media] = schema;
  }
  return out;
}

/** The Fastify schema of one operation: its body, params and query, and every response it documents. */
export function routeSchema(operationId: string): FastifySchema {
  const spec = openApi();
  const { op } = operation(operationId);
  const schema: FastifySchema = {};
  const body = op.requestBody?.content['application/json']?.schema;
  if (body) schema.body = toJsonSchema(body);
  const params = (op.parameters ?? []).map((p) =>
    '$ref' in p ? spec.components.parameters[p.$ref.split('/').pop()!] : p,
  );
  for (const where of ['path', 'query'] as const) {
    const ps = params.filter((p) => p.in === where);
    if (ps.length === 0) continue;
    const s = {
      type: 'object',
      properties: Object.fromEntries(ps.map((p) => [p.name, toJsonSchema(p.schema)])),
      required: ps.filter((p) => p.required).map((p) => p.name),
    };
    if (where === 'path') schema.params = s;
    else schema.querystring = s;
  }
  const response: Obj = {};
  for (const [status, byMedia] of Object.entries(responseSchemas(op))) {
    const content: Obj = {};
    for (const [media, s] of Object.entries(byMedia)) content[media] = { schema: toJsonSchema(s) };
    response[status] = { content };
  }
  schema.response = response;
  return schema;
}
