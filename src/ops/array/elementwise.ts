/**
 * The elementwise array.* ops: binary arithmetic and comparisons, where either
 * side may be a number (otherwise the shapes must be equal), and unary math.
 * Result dtypes follow docs/arrays.md: integer operands give int32 (wrapping
 * at 32 bits, as numpy), div and the float functions give float64, and
 * comparisons give uint8. The common ops have hand-written loops for speed.
 */
import { OpArgumentError, defineOp, type OpDefinition } from '../registry.ts';
import { typeName } from '../builtin.ts';
import {
  NDArray,
  allocate,
  isIntegerDType,
  isNDArrayJSON,
  sizeOf,
  type DType,
  type NumericArray,
} from '../../shared/values/ndarray.ts';
import { INT32_MAX, INT32_MIN, bind, fmt, ndarray } from './args.ts';

type Operand = NDArray | number;

function operand(op: string, v: unknown, what: string): Operand {
  if (typeof v === 'number') return v;
  if (v instanceof NDArray || isNDArrayJSON(v)) return ndarray(op, v, what);
  throw new OpArgumentError(`${op} expects an NDArray or a number as ${what}, got ${typeName(v)}.`);
}

/** Integer operands give integer results: an integer dtype, or a number that is an integer in the int32 range. */
function isIntOperand(v: Operand): boolean {
  return typeof v === 'number' ? Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX : isIntegerDType(v.dtype);
}

type Result = 'arithmetic' | 'float' | 'compare';
type Loop = (x: NumericArray, y: NumericArray, out: NumericArray) => void;
type ScalarLoop = (x: NumericArray, y: number, out: NumericArray) => void;

/**
 * Hand-written loops for array-array, array-number and number-array. One loop
 * calling `f` per element for every op is megamorphic and about 5 times slower;
 * ops without loops (pow, mod, integer mul) use that generic path.
 */
interface Loops {
  aa: Loop;
  as: ScalarLoop;
  sa: ScalarLoop;
}

interface BinarySpec {
  result: Result;
  /** The element function (for floats, and for integers unless fInt is given). */
  f: (x: number, y: number) => number;
  /** The element function when both operands are integers and the result is int32. */
  fInt?: (x: number, y: number) => number;
  loops?: Loops;
}

function binaryOp(name: string, description: string, spec: BinarySpec): OpDefinition {
  return defineOp({
    name,
    description,
    run: (args, kwargs) => {
      const [av, bv] = bind(name, args, kwargs, ['a', 'b'], 2);
      const a = operand(name, av, 'a');
      const b = operand(name, bv, 'b');
      if (typeof a === 'number' && typeof b === 'number')
        throw new OpArgumentError(`${name}: a or b must be an NDArray; got two numbers.`);
      const shape = a instanceof NDArray ? a.shape : (b as NDArray).shape;
      if (
        a instanceof NDArray &&
        b instanceof NDArray &&
        (a.ndim !== b.ndim || a.shape.some((d, i) => d !== b.shape[i]))
      ) {
        throw new OpArgumentError(
          `${name}: shapes ${fmt(a.shape)} and ${fmt(b.shape)} differ; elementwise ops need equal shapes, or a number on one side.`,
        );
      }
      const ints = spec.result === 'arithmetic' && isIntOperand(a) && isIntOperand(b);
      const dtype: DType = spec.result === 'compare' ? 'uint8' : ints ? 'int32' : 'float64';
      const out = allocate(dtype, sizeOf(shape));
      const x = typeof a === 'number' ? a : a.data;
      const y = typeof b === 'number' ? b : b.data;
      // Storing into an Int32Array wraps to 32 bits, as numpy's int32 arithmetic does.
      if (ints && spec.fInt) map2(spec.fInt, x, y, out);
      else if (!spec.loops) map2(spec.f, x, y, out);
      else if (typeof x === 'number') spec.loops.sa(y as NumericArray, x, out);
      else if (typeof y === 'number') spec.loops.as(x, y, out);
      else spec.loops.aa(x, y, out);
      return new NDArray(dtype, shape, out);
    },
  });
}

function map2(
  f: (x: number, y: number) => number,
  x: NumericArray | number,
  y: NumericArray | number,
  out: NumericArray,
): void {
  const n = out.length;
  if (typeof x === 'number') for (let i = 0; i < n; i++) out[i] = f(x, (y as NumericArray)[i]);
  else if (typeof y === 'number') for (let i = 0; i < n; i++) out[i] = f(x[i], y);
  else for (let i = 0; i < n; i++) out[i] = f(x[i], y[i]);
}

// `sa` loops get the array first: (array, scalar) computes scalar OP array[i].
const ADD: Loops = {
  aa: (x, y, o) => {
    for (let i = 0; i < o.length; i++) o[i] = x[i] + y[i];
  },
  as: (x, s, o) => {
    for (let i = 0; i < o.length; i++) o[i] = x[i] + s;
  },
  sa: (y, s, o) => {
    for (let i = 0; i < o.length; i++) o[i] = s + y[i];
  },
};
const SUB: Loops = {
  aa: (x, y, o) => {
    for (let i = 0; i < o.length; i++) o[i] = x[i] - y[i];
  },
  as: (x, s, o) => {
    for (let i = 0; i < o.length; i++) o[i] = x[i] - s;
  },
  sa: (y, s, o) => {
    for (let i = 0; i < o.length; i++) o[i] = s - y[i];
  },
};
const MUL: Loops = {
  aa: (x, y, o) => {
    for (let i = 0; i < o.length; i++) o[i] = x[i] * y[i];
  },
  as: (x, s, o) => {
    for (let i = 0; i < o.length; i++) o[i] = x[i] * s;
  },
  sa: (y, s, o) => {
    for (let i = 0; i < o.length; i++) o[i] = s * y[i];
  },
};
const DIV: Loops = {
  aa: (x, y, o) => {
    for (let i = 0; i < o.length; i++) o[i] = x[i] / y[i];
  },
  as: (x, s, o) => {
    for (let i = 0; i < o.length; i++) o[i] = x[i] / s;
  },
  sa: (y, s, o) => {
    for (let i = 0; i < o.length; i++) o[i] = s / y[i];
  },
};
const EQ: Loops = {
  aa: (x, y, o) => {
    for (let i = 0; i < o.length; i++) o[i] = x[i] === y[i] ? 1 : 0;
  },
  as: (x, s, o) => {
    for (let i = 0; i < o.length; i++) o[i] = x[i] === s ? 1 : 0;
  },
  sa: (y, s, o) => {
    for (let i = 0; i < o.length; i++) o[i] = s === y[i] ? 1 : 0;
  },
};
const NE: Loops = {
  aa: (x, y, o) => {
    for (let i = 0; i < o.length; i++) o[i] = x[i] !== y[i] ? 1 : 0;
  },
  as: (x, s, o) => {
    for (let i = 0; i < o.length; i++) o[i] = x[i] !== s ? 1 : 0;
  },
  sa: (y, s, o) => {
    for (let i = 0; i < o.length; i++) o[i] = s !== y[i] ? 1 : 0;
  },
};
const LT: Loops = {
  aa: (x, y, o) => {
    for (let i = 0; i < o.length; i++) o[i] = x[i] < y[i] ? 1 : 0;
  },
  as: (x, s, o) => {
    for (let i = 0; i < o.length; i++) o[i] = x[i] < s ? 1 : 0;
  },
  sa: (y, s, o) => {
    for (let i = 0; i < o.length; i++) o[i] = s < y[i] ? 1 : 0;
  },
};
const LE: Loops = {
  aa: (x, y, o) => {
    for (let i = 0; i < o.length; i++) o[i] = x[i] <= y[i] ? 1 : 0;
  },
  as: (x, s, o) => {
    for (let i = 0; i < o.length; i++) o[i] = x[i] <= s ? 1 : 0;
  },
  sa: (y, s, o) => {
    for (let i = 0; i < o.length; i++) o[i] = s <= y[i] ? 1 : 0;
  },
};
const GT: Loops = {
  aa: (x, y, o) => {
    for (let i = 0; i < o.length; i++) o[i] = x[i] > y[i] ? 1 : 0;
  },
  as: (x, s, o) => {
    for (let i = 0; i < o.length; i++) o[i] = x[i] > s ? 1 : 0;
  },
  sa: (y, s, o) => {
    for (let i = 0; i < o.length; i++) o[i] = s > y[i] ? 1 : 0;
  },
};
const GE: Loops = {
  aa: (x, y, o) => {
    for (let i = 0; i < o.length; i++) o[i] = x[i] >= y[i] ? 1 : 0;
  },
  as: (x, s, o) => {
    for (let i = 0; i < o.length; i++) o[i] = x[i] >= s ? 1 : 0;
  },
  sa: (y, s, o) => {
    for (let i = 0; i < o.length; i++) o[i] = s >= y[i] ? 1 : 0;
  },
};

/** Unary ops keep integer kinds (int32) or give float64; their loops are hand-written for the same reason as Loops. */
function unaryOp(
  name: string,
  description: string,
  keepsInts: boolean,
  loop: (x: NumericArray, out: NumericArray) => void,
): OpDefinition {
  return defineOp({
    name,
    description,
    run: (args, kwargs) => {
      const [av] = bind(name, args, kwargs, ['a'], 1);
      const a = ndarray(name, av, 'a');
      const dtype: DType = keepsInts && isIntegerDType(a.dtype) ? 'int32' : 'float64';
      const out = allocate(dtype, a.size);
      loop(a.data, out);
      return new NDArray(dtype, a.shape, out);
    },
  });
}

/** Python's %: the result has the divisor's sign. */
function pyMod(x: number, y: number): number {
  const r = x % y;
  return r !== 0 && r < 0 !== y < 0 ? r + y : r;
}

/** Integer power wrapping at 32 bits as numpy's int32 does (exact, unlike Math.pow past 2^53). */
function intPow(base: number, exp: number): number {
  if (exp < 0)
    throw new OpArgumentError(
      'array.pow: integers to negative integer powers are not integers; convert with array.astype(a, "float64") first.',
    );
  let r = 1;
  let b = base | 0;
  for (let e = exp; e > 0; e = Math.floor(e / 2)) {
    if (e % 2 === 1) r = Math.imul(r, b);
    b = Math.imul(b, b);
  }
  return r;
}

export const elementwiseOps: OpDefinition[] = [
  binaryOp('array.add', 'array.add(a, b): a + b elementwise; a or b may be a number.', {
    result: 'arithmetic',
    f: (x, y) => x + y,
    loops: ADD,
  }),
  binaryOp('array.sub', 'array.sub(a, b): a - b elementwise; a or b may be a number.', {
    result: 'arithmetic',
    f: (x, y) => x - y,
    loops: SUB,
  }),
  binaryOp('array.mul', 'array.mul(a, b): a * b elementwise; a or b may be a number.', {
    result: 'arithmetic',
    f: (x, y) => x * y,
    fInt: Math.imul,
    loops: MUL,
  }),
  binaryOp('array.div', 'array.div(a, b): a / b elementwise, always float64 (x/0 is ±Infinity or NaN, as numpy).', {
    result: 'float',
    f: (x, y) => x / y,
    loops: DIV,
  }),
  binaryOp(
    'array.pow',
    'array.pow(a, b): a ** b elementwise; a or b may be a number (integers to negative integer powers are an error).',
    { result: 'arithmetic', f: Math.pow, fInt: intPow },
  ),
  binaryOp('array.mod', 'array.mod(a, b): a % b elementwise with the sign of b, as Python (integer x % 0 is 0).', {
    result: 'arithmetic',
    f: pyMod,
    fInt: (x, y) => (y === 0 ? 0 : pyMod(x, y)),
  }),
  binaryOp('array.eq', 'array.eq(a, b): 1 where a == b, else 0 (uint8).', {
    result: 'compare',
    f: (x, y) => (x === y ? 1 : 0),
    loops: EQ,
  }),
  binaryOp('array.ne', 'array.ne(a, b): 1 where a != b, else 0 (uint8).', {
    result: 'compare',
    f: (x, y) => (x !== y ? 1 : 0),
    loops: NE,
  }),
  binaryOp('array.lt', 'array.lt(a, b): 1 where a < b, else 0 (uint8).', {
    result: 'compare',
    f: (x, y) => (x < y ? 1 : 0),
    loops: LT,
  }),
  binaryOp('array.le', 'array.le(a, b): 1 where a <= b, else 0 (uint8).', {
    result: 'compare',
    f: (x, y) => (x <= y ? 1 : 0),
    loops: LE,
  }),
  binaryOp('array.gt', 'array.gt(a, b): 1 where a > b, else 0 (uint8).', {
    result: 'compare',
    f: (x, y) => (x > y ? 1 : 0),
    loops: GT,
  }),
  binaryOp('array.ge', 'array.ge(a, b): 1 where a >= b, else 0 (uint8).', {
    result: 'compare',
    f: (x, y) => (x >= y ? 1 : 0),
    loops: GE,
  }),
  unaryOp('array.neg', 'array.neg(a): -a elementwise.', true, (x, o) => {
    for (let i = 0; i < o.length; i++) o[i] = -x[i];
  }),
  unaryOp('array.abs', 'array.abs(a): |a| elementwise.', true, (x, o) => {
    for (let i = 0; i < o.length; i++) o[i] = Math.abs(x[i]);
  }),
  unaryOp('array.sqrt', 'array.sqrt(a): the square root elementwise (NaN below zero), float64.', false, (x, o) => {
    for (let i = 0; i < o.length; i++) o[i] = Math.sqrt(x[i]);
  }),
  unaryOp('array.exp', 'array.exp(a): e ** a elementwise, float64.', false, (x, o) => {
    for (let i = 0; i < o.length; i++) o[i] = Math.exp(x[i]);
  }),
  unaryOp(
    'array.log',
    'array.log(a): the natural logarithm elementwise (-Infinity at 0, NaN below), float64.',
    false,
    (x, o) => {
      for (let i = 0; i < o.length; i++) o[i] = Math.log(x[i]);
    },
  ),
];
