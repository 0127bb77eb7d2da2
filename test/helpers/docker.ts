/**
 * Reads docker/Dockerfile and docker/compose.yaml for tests: no Docker engine
 * runs here, so tests check the files' structure and run the commands they
 * name, as the containers would.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string) => readFileSync(`${root}${path}`, 'utf8');

export interface Instruction {
  op: string;
  args: string;
  /** The stage (0-based) the instruction belongs to. */
  stage: number;
}

export function dockerfile(): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  // Joins continuation lines; drops comments and the parser directive.
  const lines = read('docker/Dockerfile').replace(/\\\n/g, ' ').split('\n');
  for (const line of lines) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const m = /^([A-Z]+)\s+(.*)$/.exec(t);
    if (!m) throw new Error(`Dockerfile line not understood: ${t}`);
    if (m[1] === 'FROM') stage++;
    out.push({ op: m[1], args: m[2], stage });
  }
  return out;
}

/** The exec-form command of a CMD or HEALTHCHECK instruction. */
export function execForm(instruction: Instruction): string[] {
  const json =
    instruction.op === 'HEALTHCHECK' ? instruction.args.slice(instruction.args.indexOf('CMD ') + 4) : instruction.args;
  const cmd = JSON.parse(json) as unknown;
  if (!Array.isArray(cmd) || !cmd.every((s) => typeof s === 'string'))
    throw new Error(`${instruction.op} is not in exec form: ${instruction.args}`);
  return cmd;
}

/** The image's command, the API's. */
export function imageCommand(): string[] {
  const cmds = dockerfile().filter((i) => i.op === 'CMD');
  return execForm(cmds[cmds.length - 1]);
}

export interface ComposeService {
  build?: { context: string; dockerfile: string; target?: string };
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test?: string[]; disable?: boolean };
  container_name?: string;
  [more: string]: unknown;
}

export interface Compose {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
}

/** docker/compose.yaml with its YAML merge keys resolved, as Docker Compose reads it. */
export function compose(): Compose {
  return parse(read('docker/compose.yaml'), { merge: true }) as Compose;
}

/** A service's command: its own, or the image's. */
export function serviceCommand(name: string): string[] {
  return compose().services[name].command ?? imageCommand();
}

export function dockerignore(): string[] {
  return read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

/** Whether .dockerignore keeps `path` (relative to the context) out of the build context. */
/** Whether .dockerignore keeps `path` out of the context: as Docker reads it, the last matching line wins and `!` lets a path back in. */
export function ignored(path: string): boolean {
  let out = false;
  for (const line of dockerignore()) {
    const negated = line.startsWith('!');
    const pattern = negated ? line.slice(1) : line;
    const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}(/.*)?$`);
    if (re.test(path)) out = !negated;
  }
  return out;
}
