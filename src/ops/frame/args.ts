/**
 * Argument handling shared by the frame.* ops: frameOp defines an op whose
 * positional and keyword arguments are bound to parameter names ("name?" is
 * optional) and whose FrameErrors become OpArgumentErrors prefixed with the op
 * name; the helpers here read a frame (a Frame or its JSON form
 * {"$frame": ...}), a list of frames, column names, bounded integers and
 * scalars of a column's kind.
 */
import { Frame, FrameError, describe, frameFromJSON, isNumericColumn, type Column } from '../../shared/values/frame.ts';
import { OpArgumentError, defineOp, type OpDefinition } from '../registry.ts';

/** Binds positional args and kwargs to parameter names ("name?" is optional). */
function bind(op: string, args: unknown[], kwargs: Record<string, unknown> | undefined, params: string[]): unknown[] {
  const names = params.map((p) => p.replace(/\?$/, ''));
  const sig = `${op}(${params.join(', ')})`;
  if (args.length > params.length)
    throw new FrameError(`takes at most ${params.length} arguments, got ${args.length}: ${sig}.`);
  const out = args.slice();
  for (const [k, v] of Object.entries(kwargs ?? {})) {
    const i = names.indexOf(k);
    if (i < 0) throw new FrameError(`has no argument ${JSON.stringify(k)}: ${sig}.`);
    if (i < args.length) throw new FrameError(`argument ${JSON.stringify(k)} is given both by position and by name.`);
    out[i] = v;
  }
  params.forEach((p, i) => {
    if (!p.endsWith('?') && out[i] === undefined) throw new FrameError(`argument ${i + 1} (${p}) is missing: ${sig}.`);
  });
  return out;
}

export function frameOp(
  name: string,
  params: string[],
  description: string,
  fn: (a: unknown[]) => unknown,
): OpDefinition {
  return defineOp({
    name,
    description: `${name}(${params.join(', ')}): ${description}`,
    run: (args, kwargs) => {
      try {
        return fn(bind(name, args, kwargs, params));
      } catch (err) {
        if (err instanceof FrameError) throw new OpArgumentError(`${name}: ${err.message}`);
        throw err;
      }
    },
  });
}

export function asFrame(v: unknown, what: string): Frame {
  if (v instanceof Frame) return v;
  if (typeof v === 'object' && v !== null && '$frame' in v) {
    try {
      return frameFromJSON(v);
    } catch (err) {
      if (err instanceof FrameError) throw new FrameError(`${what}: ${err.message}`);
      throw err;
    }
  }
  throw new FrameError(
    `${what} must be a frame (made by a frame op, or {"$frame": {"columns": {...}}}), got ${describe(v)}.`,
  );
}

export function frames(v: unknown, what: string): Frame[] {
  if (!Array.isArray(v)) throw new FrameError(`${what} must be an array of frames, got ${describe(v)}.`);
  if (v.length === 0) throw new FrameError(`${what} is empty; give at least one frame.`);
  return v.map((f, i) => asFrame(f, `${what}[${i}]`));
}

export function columnName(f: Frame, v: unknown, what: string): string {
  if (typeof v !== 'string') throw new FrameError(`${what} must be a column name (a string), got ${describe(v)}.`);
  f.column(v);
  return v;
}

/** A column name or a non-empty list of distinct names. */
export function columnList(f: Frame, v: unknown, what: string): string[] {
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0)
    throw new FrameError(`${what} must be a column name or a non-empty list of names, got ${describe(v)}.`);
  list.forEach((n, i) => columnName(f, n, `${what}[${i}]`));
  if (new Set(list).size !== list.length) throw new FrameError(`${what} names a column twice.`);
  return list as string[];
}

export function integer(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new FrameError(`${what} must be an integer from ${min} to ${max}, got ${describe(v)}.`);
  return v;
}

export type Scalar = number | string | null;

export function sameKind(c: Column, v: unknown, what: string, nullOk: boolean): Scalar {
  if (v === null && nullOk) return null;
  const want = isNumericColumn(c) ? 'number' : 'string';
  if (typeof v !== want)
    throw new FrameError(`${what} must be a ${want} (the column holds ${want}s), got ${describe(v)}.`);
  return v as Scalar;
}
