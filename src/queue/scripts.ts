/**
 * Loads the Lua scripts of src/queue/scripts as ioredis commands. A script's
 * file name is `verbObject-<number of keys>.lua`, as BullMQ names its own.
 * Each atomic change of a graph's state is exactly one of these scripts, and
 * each script has one TypeScript wrapper beside it (`verbObject.ts`), the only
 * code that calls it (docs/architecture.md, "The protocol layer").
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'scripts');

/** The keys, then the arguments, of a script call, as ioredis takes them. */
export type ScriptArgs = (string | number | Buffer)[];

/**
 * The scripts, as methods that ioredis adds to a connection (Buffer variants
 * return bytes). Each script's wrapper (src/queue/scripts/<name>.ts) adds its
 * own method here, by declaration merging, so all of a script's TypeScript
 * side is in its wrapper.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by each wrapper (declaration merging).
export interface ScriptCommands {}

export type ScriptedRedis = Redis & ScriptCommands;

const scripts = readdirSync(dir)
  .filter((f) => f.endsWith('.lua'))
  .map((file) => {
    const m = /^(\w+)-(\d+)\.lua$/.exec(file);
    if (!m) throw new Error(`Script ${file} must be named verbObject-<keys>.lua`);
    return { name: m[1], numberOfKeys: Number(m[2]), lua: withIncludes(readFileSync(join(dir, file), 'utf8')) };
  });

/**
 * Replaces `--- @include "name"` lines with scripts/includes/name.lua, as
 * BullMQ's loader does; includes may include others, and each is included once.
 */
function withIncludes(lua: string, seen = new Set<string>()): string {
  return lua.replace(/^--- @include "(\w+)"$/gm, (_, name: string) => {
    if (seen.has(name)) return '';
    seen.add(name);
    return withIncludes(readFileSync(join(dir, 'includes', `${name}.lua`), 'utf8'), seen);
  });
}

export function withScripts(redis: Redis): ScriptedRedis {
  for (const s of scripts) {
    if (!(s.name in redis)) redis.defineCommand(s.name, { numberOfKeys: s.numberOfKeys, lua: s.lua });
  }
  return redis as ScriptedRedis;
}
