/**
 * Loads an operator's op modules. A module exports `ops` (or a default export)
 * that is an OpDefinition or an array of them; see examples/ops.
 */
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { standardOps } from './index.ts';
import { OpRegistry, type OpDefinition } from './registry.ts';

export async function loadRegistry(modulePaths: string[]): Promise<OpRegistry> {
  const registry = new OpRegistry();
  for (const op of standardOps) registry.register(op);
  for (const path of modulePaths) {
    const mod = (await importOpModule(path)) as { ops?: unknown; default?: unknown };
    const exported = mod.ops ?? mod.default;
    const defs = Array.isArray(exported) ? exported : [exported];
    if (
      exported === undefined ||
      defs.some((d) => typeof d !== 'object' || d === null || typeof (d as OpDefinition).run !== 'function')
    ) {
      throw new Error(
        `Op module ${path} must export \`ops\` (or a default export): an op definition or an array of them, made with defineOp().`,
      );
    }
    for (const def of defs as OpDefinition[]) registry.register(def);
  }
  return registry;
}

/**
 * Imports one op module. A TypeScript module (.ts, .mts, .cts) loads as it is where a TypeScript loader
 * runs (development runs under tsx); the compiled service has none, so there tsx compiles that module
 * alone (tsImport, scoped to it: the service's own modules stay plain JavaScript).
 */
async function importOpModule(path: string): Promise<unknown> {
  const url = pathToFileURL(resolve(path)).href;
  try {
    return await import(url);
  } catch (err) {
    if (!/\.[mc]?ts$/.test(path) || (err as NodeJS.ErrnoException).code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw err;
    const { tsImport } = await import('tsx/esm/api');
    return tsImport(url, import.meta.url);
  }
}
