/**
 * Row-wise frame.* ops: frame.filter keeps the rows where a predicate holds
 * (comparisons of a column with a value, combined with and, or and not), and
 * frame.assign adds or replaces float64 columns computed from arithmetic
 * expressions over columns and numbers. Both forms are plain JSON, checked
 * here with error messages that give the path of the bad part.
 */
import { type Frame, FrameError, describe, isMissing, type Column } from '../../shared/values/frame.ts';
import type { OpDefinition } from '../registry.ts';
import { asFrame, frameOp, sameKind, type Scalar } from './args.ts';

const COMPARISONS = ['==', '!=', '<', '<=', '>', '>=', 'in', 'not_in'] as const;
type Comparison = (typeof COMPARISONS)[number];
const PREDICATE_FORM =
  '[column, op, value] with op one of ==, !=, <, <=, >, >=, in, not_in; ["and", p, ...]; ["or", p, ...]; or ["not", p]';

/** A row mask (1 = keep) for a predicate; see PREDICATE_FORM. Missing values fail every test but != and not_in. */
function predicateMask(f: Frame, p: unknown, path: string, depth = 0): Uint8Array {
  if (depth > 64) throw new FrameError(`${path}: predicates nest more than 64 deep.`);
  if (!Array.isArray(p)) throw new FrameError(`${path} must be a predicate (${PREDICATE_FORM}), got ${describe(p)}.`);
  const [head, ...rest] = p;
  if ((head === 'and' || head === 'or') && rest.length > 0 && rest.every(Array.isArray)) {
    const masks = rest.map((q, i) => predicateMask(f, q, `${path}[${i + 1}]`, depth + 1));
    const out = masks[0].slice();
    for (const m of masks.slice(1))
      for (let i = 0; i < out.length; i++) out[i] = head === 'and' ? out[i] & m[i] : out[i] | m[i];
    return out;
  }
  if (head === 'not' && rest.length === 1 && Array.isArray(rest[0])) {
    const m = predicateMask(f, rest[0], `${path}[1]`, depth + 1);
    for (let i = 0; i < m.length; i++) m[i] ^= 1;
    return m;
  }
  if (p.length !== 3 || typeof head !== 'string' || !COMPARISONS.includes(p[1]))
    throw new FrameError(`${path} must be a predicate (${PREDICATE_FORM}), got ${JSON.stringify(p).slice(0, 80)}.`);
  return comparisonMask(f.column(head), p[1] as Comparison, p[2], `${path}[2]`);
}

function comparisonMask(c: Column, op: Comparison, value: unknown, where: string): Uint8Array {
  const n = c.length;
  const out = new Uint8Array(n);
  if (op === 'in' || op === 'not_in') {
    if (!Array.isArray(value)) throw new FrameError(`${where}: ${op} takes a list of values, got ${describe(value)}.`);
    const set = new Set(value.map((v, i) => sameKind(c, v, `${where}[${i}]`, true)));
    const hit = op === 'in' ? 1 : 0;
    for (let i = 0; i < n; i++) out[i] = (isMissing(c[i]) ? set.has(null) : set.has(c[i])) ? hit : 1 - hit;
    return out;
  }
  const v = sameKind(c, value, where, true);
  if (v === null) {
    if (op !== '==' && op !== '!=')
      throw new FrameError(`${where}: null (missing) can only be compared with == or !=.`);
    for (let i = 0; i < n; i++) out[i] = isMissing(c[i]) === (op === '==') ? 1 : 0;
    return out;
  }
  const test = {
    '==': (x: Scalar) => x === v,
    '!=': (x: Scalar) => x !== v,
    '<': (x: Scalar) => x !== null && x < v,
    '<=': (x: Scalar) => x !== null && x <= v,
    '>': (x: Scalar) => x !== null && x > v,
    '>=': (x: Scalar) => x !== null && x >= v,
  }[op];
  for (let i = 0; i < n; i++) out[i] = test(c[i]) ? 1 : 0;
  return out;
}

function maskIndices(m: Uint8Array): Int32Array {
  let k = 0;
  for (let i = 0; i < m.length; i++) k += m[i];
  const idx = new Int32Array(k);
  for (let i = 0, j = 0; i < m.length; i++) if (m[i]) idx[j++] = i;
  return idx;
}

const EXPR_FORM = 'a number, {"col": name}, or [op, expr, expr] with op one of + - * /';
const ARITH: Record<string, (a: number, b: number) => number> = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
};

/** A number (constant) or a Float64Array (one value per row). */
function evalExpr(f: Frame, e: unknown, path: string, depth = 0): number | Float64Array {
  if (depth > 64) throw new FrameError(`${path}: expressions nest more than 64 deep.`);
  if (typeof e === 'number') return e;
  if (Array.isArray(e)) {
    const fn = typeof e[0] === 'string' && Object.hasOwn(ARITH, e[0]) ? ARITH[e[0]] : undefined;
    if (e.length !== 3 || !fn)
      throw new FrameError(`${path} must be ${EXPR_FORM}, got ${JSON.stringify(e).slice(0, 80)}.`);
    const a = evalExpr(f, e[1], `${path}[1]`, depth + 1);
    const b = evalExpr(f, e[2], `${path}[2]`, depth + 1);
    if (typeof a === 'number' && typeof b === 'number') return fn(a, b);
    const out = new Float64Array(f.length);
    for (let i = 0; i < out.length; i++)
      out[i] = fn(typeof a === 'number' ? a : a[i], typeof b === 'number' ? b : b[i]);
    return out;
  }
  if (
    typeof e === 'object' &&
    e !== null &&
    Object.keys(e).length === 1 &&
    typeof (e as { col?: unknown }).col === 'string'
  ) {
    const c = f.numeric((e as { col: string }).col);
    return c instanceof Float64Array ? c : Float64Array.from(c);
  }
  throw new FrameError(`${path} must be ${EXPR_FORM}, got ${describe(e)}.`);
}

export const filterOps: OpDefinition[] = [
  frameOp(
    'frame.filter',
    ['f', 'predicate'],
    'the rows where predicate holds: [column, op, value] (==, !=, <, <=, >, >=, in, not_in), ["and", p, ...], ["or", p, ...], ["not", p].',
    ([f, p]) => {
      const fr = asFrame(f, 'f');
      return fr.take(maskIndices(predicateMask(fr, p, 'predicate')));
    },
  ),
  frameOp(
    'frame.assign',
    ['f', 'columns'],
    'new or replaced float64 columns {name: expr}, in order; expr is a number, {"col": name} or [+|-|*|/, expr, expr].',
    ([f, a]) => {
      let fr = asFrame(f, 'f');
      if (typeof a !== 'object' || a === null || Array.isArray(a))
        throw new FrameError(`columns must be an object {newColumn: expr}, got ${describe(a)}.`);
      for (const [name, e] of Object.entries(a)) {
        const v = evalExpr(fr, e, `columns[${JSON.stringify(name)}]`);
        fr = fr.with(name, typeof v === 'number' ? new Float64Array(fr.length).fill(v) : v);
      }
      return fr;
    },
  ),
];
