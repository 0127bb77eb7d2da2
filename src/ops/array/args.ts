/**
 * Argument handling shared by the array.* ops: binding positional and keyword
 * arguments to parameter names (bind, and op1, which defines an op on top of
 * it), reading an NDArray or its JSON form {"$ndarray": ...}, and validating
 * dtypes, integers, shapes and axes against the limits one chunk must respect.
 * Every failure is an OpArgumentError whose message names the op and the
 * argument.
 */
import { OpArgumentError, defineOp, type OpDefinition } from '../registry.ts';
import { typeName } from '../builtin.ts';
import {
  NDArray,
  NDArrayFormatError,
  fromJSONForm,
  isDType,
  isNDArrayJSON,
  sizeOf,
  unknownDTypeMessage,
  type DType,
} from '../../shared/values/ndarray.ts';

/** A stored value must fit one Redis string (512 MB); 50M float64 elements are 400 MB. */
export const MAX_ELEMENTS = 50_000_000;
/** numpy's limit on dimensions; it also bounds the recursion of array.from and array.to_list. */
export const MAX_NDIM = 32;
export const INT32_MIN = -(2 ** 31);
export const INT32_MAX = 2 ** 31 - 1;

/**
 * Positional and keyword arguments by name: `names` in positional order, the
 * first `required` of them required. Unknown or doubly given names are errors.
 */
export function bind(
  op: string,
  args: unknown[],
  kwargs: Record<string, unknown> | undefined,
  names: readonly string[],
  required: number,
): unknown[] {
  const signature = `${op}(${names.join(', ')})`;
  if (args.length > names.length)
    throw new OpArgumentError(
      `${op} takes at most ${names.length} argument${names.length === 1 ? '' : 's'}, got ${args.length}: ${signature}.`,
    );
  const values = names.map((_, i) => args[i]);
  for (const [k, v] of Object.entries(kwargs ?? {})) {
    const i = names.indexOf(k);
    if (i < 0) throw new OpArgumentError(`${op} has no argument ${JSON.stringify(k)}: ${signature}.`);
    if (i < args.length)
      throw new OpArgumentError(`${op}: ${k} is given both as argument ${i + 1} and as a keyword; give it once.`);
    values[i] = v;
  }
  for (let i = 0; i < required; i++)
    if (values[i] === undefined) throw new OpArgumentError(`${op}: missing argument ${names[i]}: ${signature}.`);
  return values;
}

export function ndarray(op: string, v: unknown, what: string): NDArray {
  if (v instanceof NDArray) return v;
  if (isNDArrayJSON(v)) {
    try {
      return fromJSONForm(v);
    } catch (e) {
      if (e instanceof NDArrayFormatError)
        throw new OpArgumentError(`${op}: ${what} is not a valid array: ${e.message}`);
      throw e;
    }
  }
  throw new OpArgumentError(
    `${op} expects an NDArray as ${what}, got ${typeName(v)}; make one from nested lists with array.from.`,
  );
}

export function fmt(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

export function dtypeArg(op: string, v: unknown, fallback: DType): DType {
  if (v === undefined || v === null) return fallback;
  if (!isDType(v)) throw new OpArgumentError(`${op}: ${unknownDTypeMessage(v)}`);
  return v;
}

export function intArg(op: string, v: unknown, what: string): number {
  if (!Number.isSafeInteger(v)) throw new OpArgumentError(`${op} expects an integer as ${what}, got ${typeName(v)}.`);
  return v as number;
}

export function checkSize(op: string, shape: readonly number[]): void {
  if (shape.length > MAX_NDIM)
    throw new OpArgumentError(`${op}: ${shape.length} dimensions is more than the ${MAX_NDIM} allowed.`);
  const size = sizeOf(shape);
  if (size > MAX_ELEMENTS)
    throw new OpArgumentError(
      `${op}: shape ${fmt(shape)} has ${size} elements, more than the ${MAX_ELEMENTS} allowed in one chunk; use smaller chunks.`,
    );
}

/** A shape: a list of non-negative integers, or one integer for a 1-d shape. */
export function shapeArg(op: string, v: unknown): number[] {
  const shape = typeof v === 'number' ? [v] : v;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new OpArgumentError(
      `${op}: shape must be a list of non-negative integers such as [2, 3], got ${Array.isArray(v) ? JSON.stringify(v) : typeName(v)}.`,
    );
  }
  checkSize(op, shape);
  return shape;
}

/** null or absent for all axes, else the axis counted from 0 (negative counts from the end). */
export function axisArg(op: string, v: unknown, ndim: number): number | null {
  if (v === undefined || v === null) return null;
  if (!Number.isSafeInteger(v))
    throw new OpArgumentError(`${op}: axis must be an integer or null (all axes), got ${typeName(v)}.`);
  return normalizeAxis(op, v as number, ndim);
}

export function normalizeAxis(op: string, axis: number, ndim: number): number {
  if (ndim === 0) throw new OpArgumentError(`${op}: a 0-d array has no axis ${axis}; use null.`);
  if (axis < -ndim || axis >= ndim)
    throw new OpArgumentError(
      `${op}: axis ${axis} is out of range for a ${ndim}-d array: use ${-ndim} to ${ndim - 1}, or null for all axes.`,
    );
  return axis < 0 ? axis + ndim : axis;
}

/** An op whose arguments are bound to `names` (the first `required` of them required) before `run` sees them. */
export function op1(
  name: string,
  description: string,
  names: string[],
  required: number,
  run: (op: string, v: unknown[]) => unknown,
): OpDefinition {
  return defineOp({ name, description, run: (args, kwargs) => run(name, bind(name, args, kwargs, names, required)) });
}
