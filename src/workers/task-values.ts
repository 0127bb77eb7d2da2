/**
 * A task's values on their way in and out of an op: inputs decoded from the
 * store, results encoded for it, errors as the graph records them. Shared by
 * the worker's event loop and its op threads (tasks with a timeout).
 */
import { rootOp } from '../graph/template.ts';
import type { StartedTask, TaskErrorBody } from '../queue/tasks.ts';
import { decodeValue, encodeValue } from '../shared/codec.ts';
import { checkValueSize } from '../store/values.ts';
import { ObjectLostError } from '../store/objects.ts';

export function decodeInputs(task: StartedTask): unknown[] {
  const lost = missingInput(task);
  if (lost) throw lost;
  return task.inputs.map((bytes) => decodeValue(bytes!));
}

/** The error for the first input that is missing (null) after restoring and lineage, or null when all are there. */
export function missingInput(task: StartedTask): ObjectLostError | null {
  const slot = task.inputs.indexOf(null);
  if (slot < 0) return null;
  const dep = task.deps[slot];
  const what = Array.isArray(dep)
    ? `output ${dep[1]} of input node ${dep[0]} of this graph`
    : typeof dep === 'number'
      ? `input node ${dep} of this graph`
      : `object ${dep}`;
  return new ObjectLostError(
    `${what} is missing: it was released, expired or never existed, or its bytes are gone and it has no lineage.`,
    String(dep),
  );
}

/**
 * The stored form of a task's value: one buffer, or one per value of a
 * multiple-return task. A value over `limit` (WEFT_MAX_VALUE_BYTES) fails the
 * task with value_too_large here, in the worker, so it never reaches Redis.
 */
export function encodeResult(task: StartedTask, value: unknown, limit = Infinity): Buffer[] {
  if (task.returns === undefined) return checkResultSizes(task, [encode(value)], limit);
  const values = Array.isArray(value) ? value : null;
  if (!values || values.length !== task.returns) {
    const got = values
      ? `${values.length} values`
      : `one value (${value === null ? 'null' : typeof value}), not an array of values`;
    throw new Error(`The task says "returns": ${task.returns}, but its op returned ${got}.`);
  }
  return checkResultSizes(task, values.map(encode), limit);
}

/** Throws ValueTooLargeError (code value_too_large) for the first encoded value over `limit`. */
export function checkResultSizes<V extends { length: number }>(task: StartedTask, encoded: V[], limit: number): V[] {
  encoded.forEach((bytes, j) =>
    checkValueSize(bytes, limit, task.returns === undefined ? 'The result' : `Result ${j}`),
  );
  return encoded;
}

function encode(value: unknown): Buffer {
  try {
    return encodeValue(value);
  } catch (err) {
    throw new Error(`The op's result cannot be stored: ${(err as Error).message}`);
  }
}

export function taskError(task: StartedTask, err: unknown): TaskErrorBody {
  const e = err instanceof Error ? err : new Error(String(err));
  const { code, taskKey, taskOp, object } = e as { code?: unknown; taskKey?: string; taskOp?: string; object?: string };
  return {
    key: taskKey ?? task.key,
    op: taskOp ?? rootOp(task.template),
    message: e.message,
    stack: e.stack,
    ...(typeof code === 'string' ? { code } : {}),
    ...(object ? { object } : {}),
  };
}
