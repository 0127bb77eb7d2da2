/**
 * Evaluates a task's template: literals as they are, inputs by slot, nested
 * calls inside the same task (Dask semantics). Synchronous ops stay
 * synchronous; a promise is awaited only when an op returns one.
 */
import { ARRAY, CALL, FOREIGN, FUSED, INPUT, LIT, OBJECT, rootOp, type Template } from '../graph/template.ts';
import type { OpContext, OpRegistry } from '../ops/registry.ts';

export class UnknownOpError extends Error {
  override readonly name = 'UnknownOpError';
  readonly code = 'unknown_op';
}

type MaybePromise<T> = T | Promise<T>;

export function evaluate(t: Template, inputs: unknown[], ops: OpRegistry, ctx: OpContext): MaybePromise<unknown> {
  switch (t[0]) {
    case LIT:
      return t[1];
    case INPUT:
      return inputs[t[1]];
    case ARRAY:
      return all(t[1].map((item) => evaluate(item, inputs, ops, ctx)));
    case OBJECT: {
      const names = t[1];
      return then(all(t[2].map((v) => evaluate(v, inputs, ops, ctx))), (values) => {
        const out: Record<string, unknown> = {};
        // defineProperty, so a field named __proto__ is data, not the prototype.
        names.forEach((name, i) =>
          Object.defineProperty(out, name, { value: values[i], enumerable: true, writable: true, configurable: true }),
        );
        return out;
      });
    }
    case FOREIGN:
      // Planning keeps foreign calls out of weft-op tasks (src/graph/languages.ts), and workers send them to executors.
      throw new UnknownOpError("A foreign call ($call) reached the worker's own evaluator; it runs in an executor.");
    case FUSED: {
      const [, key, inner] = t;
      try {
        const value = evaluate(inner, inputs, ops, ctx);
        return isPromise(value) ? value.catch((err: unknown) => Promise.reject(nameFailure(err, key, inner))) : value;
      } catch (err) {
        throw nameFailure(err, key, inner);
      }
    }
    case CALL: {
      const [, name, argTemplates, kwNames, kwTemplates] = t;
      const op = ops.get(name);
      if (!op)
        throw new UnknownOpError(
          `This worker has no op ${JSON.stringify(name)}; start workers with the module that defines it (WEFT_OPS).`,
        );
      const args = all(argTemplates.map((a) => evaluate(a, inputs, ops, ctx)));
      const kwargs = kwTemplates ? all(kwTemplates.map((v) => evaluate(v, inputs, ops, ctx))) : [];
      return then(args, (a) =>
        then(kwargs, (kv) => {
          const kw: Record<string, unknown> = {};
          if (kwNames)
            kwNames.forEach((n, i) =>
              Object.defineProperty(kw, n, { value: kv[i], enumerable: true, writable: true, configurable: true }),
            );
          return op.run(a, kw, ctx);
        }),
      );
    }
  }
}

/**
 * Marks an error with the key and op of the fused task it came from, so the
 * graph's error names the task that failed, not the one it was fused into.
 * The innermost fused task wins.
 */
function nameFailure(err: unknown, key: string, inner: Template): unknown {
  if (typeof err === 'object' && err !== null && !('taskKey' in err))
    Object.assign(err, { taskKey: key, taskOp: rootOp(inner) });
  return err;
}

function all(values: MaybePromise<unknown>[]): MaybePromise<unknown[]> {
  return values.some(isPromise) ? Promise.all(values) : (values as unknown[]);
}

function then<T, U>(value: MaybePromise<T>, fn: (v: T) => MaybePromise<U>): MaybePromise<U> {
  return isPromise(value) ? value.then(fn) : fn(value);
}

function isPromise<T>(v: unknown): v is Promise<T> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}
