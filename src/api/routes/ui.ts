/**
 * The dashboard (src/api/ui): static files read once at start, served at /ui.
 * Only the files in that folder are served, by name, so no path reaches
 * anything else.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../errors.ts';
import { routeSchema } from '../schemas.ts';

const dir = fileURLToPath(new URL('../ui/', import.meta.url));
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

export default async function uiRoutes(app: FastifyInstance): Promise<void> {
  const files = new Map(
    readdirSync(dir)
      .filter((f) => extname(f) in TYPES)
      .map((f) => [f, readFileSync(join(dir, f))]),
  );
  const index = files.get('index.html')!;

  app.get('/ui', { schema: routeSchema('dashboard') }, async (_req, reply) =>
    reply.type(TYPES['.html']).header('cache-control', 'no-cache').send(index),
  );

  app.get<{ Params: { asset: string } }>(
    '/ui/:asset',
    { schema: routeSchema('dashboardAsset') },
    async (req, reply) => {
      const name = req.params.asset || 'index.html';
      const body = files.get(name);
      if (!body) throw new ApiError('not_found', `The dashboard has no file ${JSON.stringify(name)}.`);
      return reply.type(TYPES[extname(name)]).header('cache-control', 'no-cache').send(body);
    },
  );
}
