/**
 * Live progress: a graph's events as JSON, Server-Sent Events or a WebSocket
 * (the same path), and per-task timings derived from them.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { taskTimings, type GraphEvent } from '../../queue/events.ts';
import type { RequestContext } from '../../store/tenants.ts';
import { ApiError } from '../errors.ts';
import { routeSchema } from '../schemas.ts';

/** How long a closing API waits for a WebSocket client to answer the close before cutting the connection. */
const CLOSE_HANDSHAKE_MS = 1_000;

type EventsRequest = FastifyRequest<{ Params: { id: string }; Querystring: { from?: number } }>;

export default async function eventRoutes(app: FastifyInstance): Promise<void> {
  const { graphs, events, webhooks } = app.weft;

  async function exists(request: RequestContext, id: string): Promise<void> {
    if (!(await graphs.status(request, id)))
      throw new ApiError(
        'graph_not_found',
        `No graph has id ${JSON.stringify(id)}: it never existed, or its retention time passed.`,
        { id },
      );
  }

  /** Where to start: ?from=, or after the SSE Last-Event-ID a reconnecting client sends. */
  function firstSeq(req: EventsRequest): number {
    const last = req.headers['last-event-id'];
    if (typeof last === 'string' && /^\d+$/.test(last)) return Number(last) + 1;
    return req.query.from ?? 0;
  }

  app.route<{ Params: { id: string }; Querystring: { from?: number } }>({
    method: 'GET',
    url: '/v1/graphs/:id/events',
    schema: routeSchema('getGraphEvents'),
    handler: async (req, reply) => {
      await exists(req.ctx, req.params.id);
      if (!(req.headers.accept ?? '').includes('text/event-stream')) {
        return { events: (await events.read(req.params.id, firstSeq(req))).events };
      }
      const abort = new AbortController();
      req.raw.on('close', () => abort.abort());
      // A closing API ends its streams; clients reconnect (with Last-Event-ID) to another instance.
      const stop = () => abort.abort();
      app.closing.addEventListener('abort', stop);
      reply.hijack();
      reply.raw.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      });
      try {
        for await (const e of events.follow(req.params.id, firstSeq(req), abort.signal)) {
          reply.raw.write(`id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
        }
      } finally {
        app.closing.removeEventListener('abort', stop);
        reply.raw.end();
      }
    },
    wsHandler: async (socket, req) => {
      const { id } = req.params;
      const abort = new AbortController();
      const stop = () => abort.abort();
      socket.on('close', () => {
        abort.abort();
        app.closing.removeEventListener('abort', stop);
      });
      app.closing.addEventListener('abort', stop);
      if (!(await graphs.status(req.ctx, id))) {
        socket.close(4404, 'graph_not_found');
        return;
      }
      try {
        for await (const e of events.follow(id, (req.query as { from?: number }).from ?? 0, abort.signal))
          socket.send(JSON.stringify(e satisfies GraphEvent));
        // 1001 "going away": the API is closing before the graph ended; reconnect with ?from=.
        socket.close(app.closing.aborted ? 1001 : 1000, app.closing.aborted ? 'closing' : 'finish');
        // A closing API does not wait out a client that never answers the close (ws waits 30 s): it cuts the connection.
        if (app.closing.aborted) setTimeout(() => socket.terminate(), CLOSE_HANDSHAKE_MS).unref();
      } catch {
        socket.close(1011, 'error');
      }
    },
  });

  app.get<{ Params: { id: string } }>(
    '/v1/graphs/:id/webhooks',
    { schema: routeSchema('getGraphWebhooks') },
    async (req) => {
      await exists(req.ctx, req.params.id);
      // The secrets stay secret.
      return { webhooks: (await webhooks.states(req.params.id)).map(({ secret: _secret, ...rest }) => rest) };
    },
  );

  app.get<{ Params: { id: string } }>('/v1/graphs/:id/tasks', { schema: routeSchema('getGraphTasks') }, async (req) => {
    await exists(req.ctx, req.params.id);
    return { tasks: taskTimings((await events.read(req.params.id)).events) };
  });
}
