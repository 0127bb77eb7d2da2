/** Built-in ops: the arithmetic and list ops of Dask's test graphs, plus sleep and fail for testing. */
import { OpArgumentError, defineOp, type OpDefinition } from './registry.ts';
import { sleepFor } from './timers.ts';

type Numeric = ArrayLike<number>;

function num(op: string, value: unknown, what = 'argument'): number {
  if (typeof value !== 'number')
    throw new OpArgumentError(`${op} expects a number as ${what}, got ${typeName(value)}.`);
  return value;
}

function seq(op: string, value: unknown): Numeric {
  if (Array.isArray(value) || ArrayBuffer.isView(value)) return value as unknown as Numeric;
  throw new OpArgumentError(`${op} expects an array, got ${typeName(value)}.`);
}

function numbers(op: string, value: unknown): Numeric {
  const s = seq(op, value);
  if (Array.isArray(s)) for (let i = 0; i < s.length; i++) num(op, s[i], `element ${i}`);
  return s;
}

function arity(op: string, args: unknown[], n: number): void {
  if (args.length !== n)
    throw new OpArgumentError(`${op} takes ${n} argument${n === 1 ? '' : 's'}, got ${args.length}.`);
}

function binary(name: string, description: string, f: (a: number, b: number) => number): OpDefinition {
  return defineOp({
    name,
    description,
    run: (args) => {
      arity(name, args, 2);
      return f(num(name, args[0], 'first argument'), num(name, args[1], 'second argument'));
    },
  });
}

function unary(name: string, description: string, f: (x: number) => number): OpDefinition {
  return defineOp({
    name,
    description,
    run: (args) => {
      arity(name, args, 1);
      return f(num(name, args[0]));
    },
  });
}

function reduction(name: string, description: string, f: (xs: Numeric) => number, emptyOk: boolean): OpDefinition {
  return defineOp({
    name,
    description,
    run: (args) => {
      arity(name, args, 1);
      const xs = numbers(name, args[0]);
      if (xs.length === 0 && !emptyOk) throw new OpArgumentError(`${name} of an empty array is undefined.`);
      return f(xs);
    },
  });
}

export const builtinOps: OpDefinition[] = [
  defineOp({
    name: 'identity',
    description: 'identity(x): returns x unchanged.',
    run: (args) => {
      arity('identity', args, 1);
      return args[0];
    },
  }),
  unary('inc', 'inc(x): x + 1.', (x) => x + 1),
  unary('neg', 'neg(x): -x.', (x) => -x),
  binary('add', 'add(a, b): a + b.', (a, b) => a + b),
  binary('sub', 'sub(a, b): a - b.', (a, b) => a - b),
  binary('mul', 'mul(a, b): a * b.', (a, b) => a * b),
  binary('div', 'div(a, b): a / b; dividing by zero is an error.', (a, b) => {
    if (b === 0) throw new OpArgumentError('div: division by zero.');
    return a / b;
  }),
  reduction(
    'sum',
    'sum(xs): the sum of an array of numbers (0 when empty).',
    (xs) => {
      let s = 0;
      for (let i = 0; i < xs.length; i++) s += xs[i];
      return s;
    },
    true,
  ),
  reduction(
    'min',
    'min(xs): the smallest number of a non-empty array.',
    (xs) => {
      let m = Infinity;
      for (let i = 0; i < xs.length; i++) if (xs[i] < m) m = xs[i];
      return m;
    },
    false,
  ),
  reduction(
    'max',
    'max(xs): the largest number of a non-empty array.',
    (xs) => {
      let m = -Infinity;
      for (let i = 0; i < xs.length; i++) if (xs[i] > m) m = xs[i];
      return m;
    },
    false,
  ),
  reduction(
    'mean',
    'mean(xs): the arithmetic mean of a non-empty array.',
    (xs) => {
      let s = 0;
      for (let i = 0; i < xs.length; i++) s += xs[i];
      return s / xs.length;
    },
    false,
  ),
  defineOp({
    name: 'len',
    description: 'len(x): the length of an array or string, or the number of fields of an object.',
    run: (args) => {
      arity('len', args, 1);
      const x = args[0];
      if (typeof x === 'string' || Array.isArray(x) || ArrayBuffer.isView(x)) return (x as { length: number }).length;
      if (typeof x === 'object' && x !== null) return Object.keys(x).length;
      throw new OpArgumentError(`len expects an array, string or object, got ${typeName(x)}.`);
    },
  }),
  defineOp({
    name: 'getitem',
    description:
      'getitem(container, index): element `index` of an array (negative counts from the end) or field `index` of an object.',
    run: (args) => {
      arity('getitem', args, 2);
      const [c, i] = args;
      if (Array.isArray(c) || ArrayBuffer.isView(c)) {
        const arr = c as unknown as ArrayLike<unknown>;
        if (typeof i !== 'number' || !Number.isInteger(i))
          throw new OpArgumentError(`getitem: an array index must be an integer, got ${typeName(i)}.`);
        const at = i < 0 ? arr.length + i : i;
        if (at < 0 || at >= arr.length)
          throw new OpArgumentError(`getitem: index ${i} is out of range for an array of length ${arr.length}.`);
        return arr[at];
      }
      if (typeof c === 'object' && c !== null) {
        if (typeof i !== 'string' && typeof i !== 'number')
          throw new OpArgumentError(`getitem: a field name must be a string, got ${typeName(i)}.`);
        if (!Object.hasOwn(c, String(i)))
          throw new OpArgumentError(`getitem: the object has no field ${JSON.stringify(String(i))}.`);
        return (c as Record<string, unknown>)[String(i)];
      }
      throw new OpArgumentError(`getitem expects an array or object, got ${typeName(c)}.`);
    },
  }),
  defineOp({
    name: 'concat',
    description: 'concat(arrays): the arrays of an array joined into one.',
    run: (args) => {
      arity('concat', args, 1);
      const parts = args[0];
      if (!Array.isArray(parts))
        throw new OpArgumentError(`concat expects an array of arrays, got ${typeName(parts)}.`);
      const out: unknown[] = [];
      parts.forEach((p, i) => {
        if (!Array.isArray(p)) throw new OpArgumentError(`concat: element ${i} is ${typeName(p)}, not an array.`);
        for (const x of p) out.push(x);
      });
      return out;
    },
  }),
  defineOp({
    name: 'range',
    description: 'range(n) or range(start, stop, step?): integers as Python range gives them.',
    run: (args) => {
      if (args.length < 1 || args.length > 3)
        throw new OpArgumentError(`range takes 1 to 3 arguments, got ${args.length}.`);
      const [start, stop, step] =
        args.length === 1
          ? [0, num('range', args[0]), 1]
          : [num('range', args[0]), num('range', args[1]), args.length === 3 ? num('range', args[2]) : 1];
      if (![start, stop, step].every(Number.isInteger)) throw new OpArgumentError('range expects integers.');
      if (step === 0) throw new OpArgumentError('range: step must not be zero.');
      const n = Math.max(0, Math.ceil((stop - start) / step));
      if (n > 10_000_000) throw new OpArgumentError(`range: ${n} elements is more than the 10,000,000 allowed.`);
      return Array.from({ length: n }, (_, i) => start + i * step);
    },
  }),
  defineOp({
    name: 'sleep',
    description: 'sleep(ms, value?): waits ms milliseconds without blocking the worker, then returns value.',
    run: async (args, _kw, ctx) => {
      if (args.length < 1 || args.length > 2)
        throw new OpArgumentError(`sleep takes 1 or 2 arguments, got ${args.length}.`);
      const ms = num('sleep', args[0], 'milliseconds');
      if (Number.isNaN(ms)) throw new OpArgumentError('sleep expects a number of milliseconds, got NaN.');
      // Past 2^31 - 1 ms a single timer would fire at once: sleepFor chains them.
      await sleepFor(ms, ctx.signal);
      return args.length === 2 ? args[1] : null;
    },
  }),
  defineOp({
    name: 'fail',
    description: 'fail(message): throws an error with the message (for testing error handling).',
    deterministic: false,
    run: (args) => {
      throw new Error(typeof args[0] === 'string' ? args[0] : 'fail op called');
    },
  }),
];

export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 30 ? v.slice(0, 30) + '...' : v)}`;
  return `${typeof v} ${String(v)}`;
}
