/**
 * Content negotiation: a request whose Accept header admits none of the
 * types its route answers with (the media types of its 2xx responses in
 * openapi.yaml: JSON for most, MessagePack and bytes where offered, Server-Sent
 * Events on the events route, HTML, scripts and styles for the dashboard,
 * text for /metrics) is 406 not_acceptable, rather than given JSON it said it
 * cannot take. No Accept, an empty one, or a wildcard admits anything; q=0
 * excludes a type. Which of the admitted types a route sends is its own
 * choice, as before. A WebSocket upgrade is not negotiated.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest, FastifySchema, onRequestHookHandler } from 'fastify';
import { ApiError } from '../errors.ts';

async function accept(app: FastifyInstance): Promise<void> {
  app.addHook('onRoute', (route) => {
    const offered = offeredTypes(route.schema);
    if (offered.length === 0) return;
    const check: onRequestHookHandler = async (req: FastifyRequest) => {
      if (req.headers.upgrade?.toLowerCase() === 'websocket') return;
      if (!acceptable(req.headers.accept, offered))
        throw new ApiError(
          'not_acceptable',
          `${req.method} ${route.url} answers with ${offered.join(', ')}; the Accept header (${JSON.stringify(req.headers.accept)}) admits none of them.`,
          { accept: req.headers.accept, offered },
        );
    };
    // After the app's own onRequest hooks (auth answers first).
    const own = route.onRequest;
    route.onRequest = own === undefined ? [check] : [...(Array.isArray(own) ? own : [own]), check];
  });
}

/** The media types of a route's 2xx responses, as routeSchema (schemas.ts) puts them in its schema. */
function offeredTypes(schema: FastifySchema | undefined): string[] {
  const responses = (schema?.response ?? {}) as Record<string, { content?: Record<string, unknown> }>;
  const types = new Set<string>();
  for (const [status, response] of Object.entries(responses))
    if (status.startsWith('2')) for (const type of Object.keys(response.content ?? {})) types.add(type.toLowerCase());
  return [...types];
}

interface Range {
  type: string;
  subtype: string;
  q: number;
}

/** Whether an Accept header admits one of `offered`: the most specific range matching a type gives its quality. */
export function acceptable(header: string | undefined, offered: readonly string[]): boolean {
  if (header === undefined || header.trim() === '') return true;
  const ranges = header.split(',').flatMap(parseRange);
  return offered.some((type) => quality(type, ranges) > 0);
}

function parseRange(part: string): Range[] {
  const [range, ...params] = part.split(';');
  const [type, subtype] = range.trim().toLowerCase().split('/');
  if (!type || !subtype) return [];
  let q = 1;
  for (const param of params) {
    const [name, value] = param.split('=').map((s) => s.trim());
    if (name.toLowerCase() === 'q') q = Number(value);
  }
  return Number.isNaN(q) ? [] : [{ type, subtype, q }];
}

function quality(offered: string, ranges: Range[]): number {
  const [type, subtype] = offered.split('/');
  let best = -1;
  let q = 0;
  for (const r of ranges) {
    const specificity =
      r.type === type && r.subtype === subtype ? 2 : r.type === type && r.subtype === '*' ? 1 : r.type === '*' ? 0 : -1;
    if (specificity > best) {
      best = specificity;
      q = r.q;
    }
  }
  return best < 0 ? 0 : q;
}

export default fp(accept, { name: 'weft-accept' });
