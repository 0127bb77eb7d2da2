/**
 * Loads the Lua scripts of src/queue/scripts as ioredis commands. A script's
 * file name is `verbObject-<number of keys>.lua`, as BullMQ names its own.
 * Each atomic change of a graph's state is exactly one of these scripts.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'scripts');

type Args = (string | number | Buffer)[];

/** The scripts, as methods that ioredis adds to a connection. Buffer variants return bytes. */
export interface ScriptCommands {
  startTasksBuffer(...args: Args): Promise<(Buffer | number | null)[]>;
  completeTasksBuffer(...args: Args): Promise<(Buffer | number | null)[]>;
  endGraph(...args: Args): Promise<(string | number)[]>;
  findLostTasks(...args: Args): Promise<number[]>;
  linkObjects(...args: Args): Promise<(string | number)[]>;
  releaseObject(...args: Args): Promise<number>;
  spillObjects(...args: Args): Promise<[number, number]>;
  moveSpilled(...args: Args): Promise<[number, number]>;
  addEvents(...args: Args): Promise<null>;
  retryTask(...args: Args): Promise<number>;
  admitGraph(...args: Args): Promise<number>;
  readTaskBuffer(...args: Args): Promise<(Buffer | number | null)[]>;
  addBusyTime(...args: Args): Promise<string>;
}

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
